//! The checkout saga as cart sees it, in Prometheus metrics (docs/observability.md):
//! checkouts started, how they ended and how long that took, requests re-sent by the
//! watchdog, and how many are pending now. Counted after the commit that decided them,
//! so a rolled-back batch counts nothing.

use crate::domain::CheckoutEnd;
use chrono::{DateTime, Utc};

const SERVICE: (&str, &str) = ("service", "cart");

pub fn checkout_started() {
    metrics::counter!("cartflow_checkouts_started_total", &[SERVICE]).increment(1);
}

/// A checkout ended `how`; `started_at` is its convert, when known.
pub fn checkout_ended(how: CheckoutEnd, started_at: Option<DateTime<Utc>>) {
    let outcome = match how {
        CheckoutEnd::Ordered => "confirmed",
        CheckoutEnd::Rejected => "rejected",
        CheckoutEnd::Declined => "declined",
        CheckoutEnd::Expired => "expired",
    };
    let labels = [SERVICE, ("outcome", outcome)];
    metrics::counter!("cartflow_checkouts_ended_total", &labels).increment(1);
    if let Some(started) = started_at {
        let took = (Utc::now() - started).as_seconds_f64().max(0.0);
        metrics::histogram!("cartflow_checkout_duration_seconds", &labels).record(took);
    }
}

/// The watchdog sent a pending checkout's request (or its give-up) again.
pub fn request_resent(expired: bool) {
    let what = if expired {
        "expire-requested"
    } else {
        "order-requested"
    };
    metrics::counter!(
        "cartflow_checkout_requests_resent_total",
        &[SERVICE, ("event", what)]
    )
    .increment(1);
}

pub fn pending(count: i64) {
    metrics::gauge!("cartflow_checkouts_pending", &[SERVICE]).set(count as f64);
}

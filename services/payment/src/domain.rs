//! Payment's rules, free of I/O: what each saga event does to a checkout's payment,
//! what a provider answer settles, and how long a failed call waits.

pub use cartflow_api::payment::{Payment, PaymentStatus, check_payment_method};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// What a checkout that ends without its order does to its payment: given up
/// (`checkout.expired`), or its stock short (`stock.rejected`, which can come before
/// or after the authorization: payment runs beside the reservation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnGivenUp {
    /// Nothing heard of it yet: record it abandoned, so a late `order-requested`
    /// authorizes nothing.
    Abandon,
    /// The authorization is out: void it when it answers.
    VoidOnArrival,
    /// Held: release the hold.
    Void,
    /// Nothing held (declined, voided, ...) or already being released.
    Nothing,
}

pub fn on_given_up(status: Option<PaymentStatus>) -> OnGivenUp {
    use PaymentStatus::*;
    match status {
        None => OnGivenUp::Abandon,
        Some(Authorizing) => OnGivenUp::VoidOnArrival,
        Some(Authorized) => OnGivenUp::Void,
        // A checkout with an order is not given up (order is the arbiter); the money
        // follows the order's own events.
        Some(_) => OnGivenUp::Nothing,
    }
}

/// What a cancelled order (`order.cancelled`) does to its payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCancelled {
    /// Captured: give the money back.
    Refund,
    /// The capture is out: refund once it lands.
    RefundOnCapture,
    /// Only held: release the hold.
    Void,
    /// Refunded or voided before (a second cancel), or nothing to return.
    Nothing,
}

pub fn on_cancelled(status: PaymentStatus, refund_requested: bool) -> OnCancelled {
    use PaymentStatus::*;
    match status {
        Captured => OnCancelled::Refund,
        Capturing if !refund_requested => OnCancelled::RefundOnCapture,
        Authorized => OnCancelled::Void,
        _ => OnCancelled::Nothing,
    }
}

/// The provider's answer to an authorization, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approved,
    Declined,
}

/// Where an answered authorization leaves the payment, and whether it is announced.
pub fn after_authorization(answer: Answer, void_requested: bool) -> (PaymentStatus, bool) {
    match (answer, void_requested) {
        // The checkout was given up while the call was out: never captured.
        (Answer::Approved, true) => (PaymentStatus::Voiding, false),
        (Answer::Approved, false) => (PaymentStatus::Authorized, true),
        // A decline after the expiry tells nobody anything new.
        (Answer::Declined, void_requested) => (PaymentStatus::Declined, !void_requested),
    }
}

/// How long a provider call that failed for a passing reason waits before its next
/// try: 250 ms doubling to at most 30 s (the checkout's expiry ends the wait for an
/// authorization; capture and refunds keep trying).
pub fn retry_delay(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 8) as u32 - 1;
    (Duration::from_millis(250) * 2u32.pow(exponent)).min(Duration::from_secs(30))
}

/// How long an authorization is asked for with its key. Stripe keeps a key's answer
/// for 24 hours; asked after that, the same key would make a new PaymentIntent and could
/// hold the money twice. So an authorization still unanswered this long after it was
/// first asked is not asked again: it fails for an operator, and the reconciliation
/// names whatever the provider may hold for it. (Its checkout expired long before.)
pub const AUTHORIZATION_ASK_WINDOW: Duration = Duration::from_secs(23 * 3600);

/// Whether an authorization first asked at `first_asked` may be asked again at `now`.
pub fn may_ask_again(first_asked: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now.signed_duration_since(first_asked)
        .to_std()
        .map_or(true, |elapsed| elapsed < AUTHORIZATION_ASK_WINDOW)
}

/// The provider's idempotency key for a step of a checkout's payment: a retried call
/// (after a time-out, a crash, a redelivery) sends the same key and so never charges,
/// captures or refunds twice.
pub fn idempotency_key(step: &str, checkout_id: uuid::Uuid) -> String {
    format!("cartflow-{step}-{checkout_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    #[test]
    fn an_authorization_is_asked_again_only_within_its_keys_lifetime() {
        let first = chrono::Utc::now();
        let hours = |h: i64| first + chrono::Duration::hours(h);
        assert!(may_ask_again(first, first));
        assert!(may_ask_again(first, hours(22)));
        assert!(!may_ask_again(first, hours(23)));
        assert!(!may_ask_again(first, hours(48)));
        // A clock that went back asks again rather than giving up.
        assert!(may_ask_again(first, hours(-1)));
    }

    #[test]
    fn an_expiry_releases_what_is_held_and_blocks_what_is_not_yet_asked() {
        assert_eq!(on_given_up(None), OnGivenUp::Abandon);
        assert_eq!(on_given_up(Some(Authorizing)), OnGivenUp::VoidOnArrival);
        assert_eq!(on_given_up(Some(Authorized)), OnGivenUp::Void);
        for settled in [Declined, Voided, Voiding, Abandoned, Captured, Refunded] {
            assert_eq!(on_given_up(Some(settled)), OnGivenUp::Nothing, "{settled}");
        }
    }

    #[test]
    fn a_cancel_returns_money_once() {
        assert_eq!(on_cancelled(Captured, false), OnCancelled::Refund);
        assert_eq!(on_cancelled(Capturing, false), OnCancelled::RefundOnCapture);
        assert_eq!(on_cancelled(Capturing, true), OnCancelled::Nothing);
        assert_eq!(on_cancelled(Authorized, false), OnCancelled::Void);
        for done in [Refunding, Refunded, Voiding, Voided, Declined] {
            assert_eq!(on_cancelled(done, false), OnCancelled::Nothing, "{done}");
        }
    }

    #[test]
    fn an_authorization_after_the_expiry_is_voided_never_announced() {
        assert_eq!(
            after_authorization(Answer::Approved, false),
            (Authorized, true)
        );
        assert_eq!(
            after_authorization(Answer::Approved, true),
            (Voiding, false)
        );
        assert_eq!(
            after_authorization(Answer::Declined, false),
            (Declined, true)
        );
        assert_eq!(
            after_authorization(Answer::Declined, true),
            (Declined, false)
        );
    }

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_delay(1), Duration::from_millis(250));
        assert_eq!(retry_delay(2), Duration::from_millis(500));
        assert_eq!(retry_delay(50), Duration::from_secs(30));
    }
}

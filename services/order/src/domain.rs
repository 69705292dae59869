//! Orders and the transitions between their statuses.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

pub use cartflow_api::order::{Order, OrderStatus};

/// Why a requested transition is refused (409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Cancelling is possible only before shipping, and only once.
pub fn can_cancel(current: OrderStatus) -> Result<(), Refused> {
    match current {
        OrderStatus::Confirmed => Ok(()),
        OrderStatus::Cancelled => Err(Refused("the order is already cancelled".into())),
        other => Err(Refused(format!("a {other} order cannot be cancelled"))),
    }
}

/// What setting `target` on an order in `current` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// Move and announce it.
    Advance,
    /// Already there: nothing changes, nothing is announced (PUT is idempotent).
    Unchanged,
}

/// Fulfilment moves forward one step at a time: confirmed → shipped → delivered.
pub fn status_change(current: OrderStatus, target: OrderStatus) -> Result<StatusChange, Refused> {
    use OrderStatus::*;
    match (current, target) {
        (a, b) if a == b => Ok(StatusChange::Unchanged),
        (Confirmed, Shipped) | (Shipped, Delivered) => Ok(StatusChange::Advance),
        (Cancelled, _) => Err(Refused("the order is cancelled".into())),
        (from, to) => Err(Refused(format!("an order cannot go from {from} to {to}"))),
    }
}

/// What order has decided about a checkout so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CheckoutRecord {
    #[default]
    Undecided,
    Ordered(Uuid),
    Expired,
}

/// Order's ruling as the checkout arbiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ruling {
    /// Record the answer; with both answers in, create the order and announce
    /// `order.created`.
    Record,
    /// Record the checkout as given up and announce `checkout.expired`.
    Expire,
    /// Decided before: the order exists.
    AlreadyOrdered(Uuid),
    /// Decided before: the checkout was given up.
    AlreadyExpired,
}

impl From<CheckoutRecord> for Option<Ruling> {
    fn from(record: CheckoutRecord) -> Self {
        match record {
            CheckoutRecord::Undecided => None,
            CheckoutRecord::Ordered(id) => Some(Ruling::AlreadyOrdered(id)),
            CheckoutRecord::Expired => Some(Ruling::AlreadyExpired),
        }
    }
}

/// An answer for the checkout (its stock reserved, or its total held): recorded
/// towards its order, unless the checkout was decided before or the answer comes past
/// its expiry (then the checkout is given up: inventory releases the reservation and
/// payment voids the authorization on `checkout.expired`).
pub fn on_answer(
    record: CheckoutRecord,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Ruling {
    Option::<Ruling>::from(record).unwrap_or(match is_in_time(expires_at, now) {
        true => Ruling::Record,
        false => Ruling::Expire,
    })
}

/// Whether an answer at `now` comes within the checkout's expiry (one from before
/// expiries existed always does): what makes an undecided checkout's order.
pub fn is_in_time(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires_at.is_none_or(|deadline| now < deadline)
}

/// The cart asks to give the checkout up: granted unless the order exists.
pub fn on_expire_requested(record: CheckoutRecord) -> Ruling {
    Option::<Ruling>::from(record).unwrap_or(Ruling::Expire)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

pub const MAX_REASON_LEN: usize = 500;

impl CancelRequest {
    pub fn reason(self) -> Result<String, String> {
        let reason = self
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        match reason {
            Some(r) if r.chars().count() > MAX_REASON_LEN => Err(format!(
                "reason must be at most {MAX_REASON_LEN} characters"
            )),
            Some(r) => Ok(r),
            None => Ok("cancelled by request".into()),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `shipped` or `delivered`.
    pub status: String,
}

impl StatusRequest {
    /// Only fulfilment statuses can be set directly; cancel has its own route.
    pub fn target(&self) -> Result<OrderStatus, String> {
        match self.status.parse()? {
            s @ (OrderStatus::Shipped | OrderStatus::Delivered) => Ok(s),
            other => Err(format!("status must be shipped or delivered, not {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;
    use cartflow_events::LineItem;

    #[test]
    fn the_arbiter_decides_each_checkout_once() {
        use CheckoutRecord::*;
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(1);
        let earlier = now - chrono::Duration::seconds(1);
        let order = Uuid::new_v4();
        // In time (or from before expiries existed): the order.
        assert_eq!(on_answer(Undecided, Some(later), now), Ruling::Record);
        assert_eq!(on_answer(Undecided, None, now), Ruling::Record);
        assert!(is_in_time(Some(later), now) && is_in_time(None, now));
        assert!(!is_in_time(Some(earlier), now) && !is_in_time(Some(now), now));
        // Late: given up, even if the cart has not asked yet.
        assert_eq!(on_answer(Undecided, Some(earlier), now), Ruling::Expire);
        assert_eq!(on_answer(Undecided, Some(now), now), Ruling::Expire);
        // A decision stands, whatever arrives next.
        for expires in [None, Some(earlier), Some(later)] {
            assert_eq!(
                on_answer(Ordered(order), expires, now),
                Ruling::AlreadyOrdered(order)
            );
            assert_eq!(on_answer(Expired, expires, now), Ruling::AlreadyExpired);
        }
        assert_eq!(on_expire_requested(Undecided), Ruling::Expire);
        assert_eq!(
            on_expire_requested(Ordered(order)),
            Ruling::AlreadyOrdered(order)
        );
        assert_eq!(on_expire_requested(Expired), Ruling::AlreadyExpired);
    }

    #[test]
    fn cancel_only_before_shipping_and_once() {
        assert!(can_cancel(Confirmed).is_ok());
        assert!(can_cancel(Cancelled).unwrap_err().0.contains("already"));
        assert!(can_cancel(Shipped).is_err());
        assert!(can_cancel(Delivered).is_err());
    }

    #[test]
    fn fulfilment_moves_forward_one_step() {
        assert_eq!(status_change(Confirmed, Shipped), Ok(StatusChange::Advance));
        assert_eq!(status_change(Shipped, Delivered), Ok(StatusChange::Advance));
        assert_eq!(status_change(Shipped, Shipped), Ok(StatusChange::Unchanged));
        assert!(status_change(Confirmed, Delivered).is_err());
        assert!(status_change(Delivered, Shipped).is_err());
        assert!(status_change(Cancelled, Shipped).is_err());
    }

    #[test]
    fn an_order_reads_back_from_the_json_it_is_sent_as() {
        // The typed client of the end-to-end tests reads orders back, with or without
        // a cancel reason (left out when there is none).
        for cancel_reason in [None, Some("changed my mind".to_string())] {
            let order = Order {
                id: Uuid::new_v4(),
                cart_id: Uuid::new_v4(),
                checkout_id: Uuid::new_v4(),
                customer_id: Uuid::new_v4(),
                status: Cancelled,
                items: vec![LineItem {
                    product_sku: cartflow_events::Sku::parse("KB-1").unwrap(),
                    quantity: 2,
                    unit_price_cents: 1250,
                }],
                total_cents: 2500,
                cancel_reason,
                payment_id: Some(Uuid::new_v4()),
                shipping_address: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            };
            let json = serde_json::to_value(&order).unwrap();
            let back: Order = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back.cancel_reason, order.cancel_reason);
            assert_eq!(serde_json::to_value(&back).unwrap(), json);
        }
    }

    #[test]
    fn only_fulfilment_statuses_can_be_put() {
        let put = |s: &str| StatusRequest { status: s.into() }.target();
        assert_eq!(put("shipped"), Ok(Shipped));
        assert!(put("cancelled").is_err());
        assert!(put("lost").is_err());
    }
}

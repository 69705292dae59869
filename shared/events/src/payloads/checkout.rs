//! The checkout saga: the request, the reservation's outcome, the order, its
//! cancellation and the checkout's expiry; and [`Checkout`], what ties an event to
//! one checkout attempt.

use super::{LineItem, ShippingAddress};
use crate::{Event, Sku, Topic};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// cart → inventory: the customer converted this cart; reserve every line or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderRequested {
    pub cart_id: Uuid,
    /// The checkout attempt this belongs to; a cart checked out again gets a new one.
    /// Absent from events written before checkouts had ids: then the cart id stands in
    /// ([`Checkout::checkout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    /// When the cart gives the checkout up; order creates no order after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub customer_id: Uuid,
    pub items: Vec<LineItem>,
    /// How the customer pays: the provider's payment method token (never card data).
    /// Absent from events written before payment: payment declines those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// Where the order goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
}

/// inventory → order: every line was reserved. Order makes the order once payment's
/// answer (`payment.authorized`, given beside this one) is in too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockAvailable {
    pub cart_id: Uuid,
    /// The checkout attempt this belongs to; a cart checked out again gets a new one.
    /// Absent from events written before checkouts had ids: then the cart id stands in
    /// ([`Checkout::checkout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    /// When the cart gives the checkout up; order creates no order after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub customer_id: Uuid,
    pub items: Vec<LineItem>,
    /// The request's payment method. Payment reads it from the request itself (it
    /// authorizes beside the reservation); kept for consumers of the earlier contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// The total of the reserved lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
}

/// Why a line could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Shortage {
    pub product_sku: Sku,
    pub requested: i32,
    pub available: i32,
}

pub const INSUFFICIENT_STOCK: &str = "insufficient_stock";

/// inventory → cart, notification: nothing was reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockRejected {
    pub cart_id: Uuid,
    /// The checkout attempt this belongs to; a cart checked out again gets a new one.
    /// Absent from events written before checkouts had ids: then the cart id stands in
    /// ([`Checkout::checkout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    pub customer_id: Uuid,
    /// Always `insufficient_stock` in version 1.
    pub reason: String,
    pub details: Vec<Shortage>,
}

/// order → cart, notification: the order exists, status `confirmed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderCreated {
    pub order_id: Uuid,
    pub cart_id: Uuid,
    /// The checkout attempt this belongs to; a cart checked out again gets a new one.
    /// Absent from events written before checkouts had ids: then the cart id stands in
    /// ([`Checkout::checkout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    pub customer_id: Uuid,
    pub items: Vec<LineItem>,
    pub total_cents: i64,
    /// Where the order goes (orders from before payment have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
}

/// order → inventory, notification: the order was cancelled; its stock goes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    /// The checkout (and so the reservation) the order came from.
    pub cart_id: Uuid,
    /// The checkout attempt this belongs to; a cart checked out again gets a new one.
    /// Absent from events written before checkouts had ids: then the cart id stands in
    /// ([`Checkout::checkout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    pub customer_id: Uuid,
    pub items: Vec<LineItem>,
    pub reason: String,
}

/// A saga event that belongs to one checkout attempt.
pub trait Checkout {
    fn cart_id(&self) -> Uuid;
    fn checkout_id(&self) -> Option<Uuid>;

    /// The checkout attempt: its id, or for events from before checkout ids, the cart's.
    fn checkout(&self) -> Uuid {
        self.checkout_id().unwrap_or(self.cart_id())
    }
}

macro_rules! checkout {
    ($($ty:ty),*) => {$(
        impl Checkout for $ty {
            fn cart_id(&self) -> Uuid {
                self.cart_id
            }
            fn checkout_id(&self) -> Option<Uuid> {
                self.checkout_id
            }
        }
    )*};
}

checkout!(
    OrderRequested,
    StockAvailable,
    StockRejected,
    OrderCreated,
    OrderCancelled
);

/// cart → order: the checkout is past its expiry; give it up unless it has an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutExpireRequested {
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    /// The lines the checkout asked for, so the expiry can name them.
    pub items: Vec<LineItem>,
}

/// order → cart, inventory, notification: the checkout was given up and will never
/// have an order. Inventory releases its reservation, or makes none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutExpired {
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub items: Vec<LineItem>,
}

event!(OrderRequested, Topic::OrderRequested, |e| e.cart_id);
event!(StockAvailable, Topic::StockAvailable, |e| e.cart_id);
event!(StockRejected, Topic::StockRejected, |e| e.cart_id);
event!(OrderCreated, Topic::OrderCreated, |e| e.order_id);
event!(OrderCancelled, Topic::OrderCancelled, |e| e.order_id);
event!(
    CheckoutExpireRequested,
    Topic::CheckoutExpireRequested,
    |e| e.cart_id
);
event!(CheckoutExpired, Topic::CheckoutExpired, |e| e.cart_id);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_rejected_wire_format_matches_spec() {
        let event = StockRejected {
            cart_id: Uuid::nil(),
            checkout_id: None,
            customer_id: Uuid::nil(),
            reason: INSUFFICIENT_STOCK.into(),
            details: vec![Shortage {
                product_sku: Sku::parse("SKU-1").unwrap(),
                requested: 3,
                available: 1,
            }],
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["reason"], "insufficient_stock");
        assert_eq!(json["details"][0]["product_sku"], "SKU-1");
        assert_eq!(json["details"][0]["requested"], 3);
        assert_eq!(json["details"][0]["available"], 1);
        assert_eq!(event.ordering_key(), Uuid::nil().to_string());
    }

    #[test]
    fn events_without_a_checkout_id_stand_for_their_cart() {
        let cart_id = Uuid::new_v4();
        let old = serde_json::json!({
            "cart_id": cart_id, "customer_id": Uuid::nil(), "items": []
        });
        let request: OrderRequested = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(request.checkout(), cart_id);
        assert_eq!(request.expires_at, None);
        // Written back, an old event stays the same: nothing is invented.
        assert_eq!(serde_json::to_value(&request).unwrap(), old);

        let checkout_id = Uuid::new_v4();
        let new = OrderRequested {
            checkout_id: Some(checkout_id),
            ..request
        };
        assert_eq!(new.checkout(), checkout_id);
        let json = serde_json::to_value(&new).unwrap();
        assert_eq!(json["checkout_id"], checkout_id.to_string());
    }
}

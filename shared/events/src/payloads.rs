//! Typed bodies of every event. Field names are the wire format (JSON).
//! Money is integer minor units (`*_cents`); quantities are positive integers.

use crate::{Event, Sku, Topic};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One line of a cart or an order, with the price snapshot taken when it was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct LineItem {
    pub product_sku: Sku,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

impl LineItem {
    pub fn line_total_cents(&self) -> i64 {
        i64::from(self.quantity) * self.unit_price_cents
    }
}

pub fn total_cents(items: &[LineItem]) -> i64 {
    items.iter().map(LineItem::line_total_cents).sum()
}

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

/// Where an order goes. `country` is an ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl ShippingAddress {
    /// The longest a field of an address may be.
    pub const MAX_FIELD: usize = 200;

    /// The address with every required field present and trimmed, none too long, and
    /// an ISO 3166-1 alpha-2 country (upper-cased); a problem names `field` (the
    /// address's field in the request, such as `shipping_address`).
    pub fn checked(self, field: &str) -> Result<ShippingAddress, String> {
        let trimmed = |name: &str, value: String| -> Result<String, String> {
            let value = value.trim().to_string();
            if value.is_empty() {
                return Err(format!("{field}.{name} must not be empty"));
            }
            if value.chars().count() > Self::MAX_FIELD {
                return Err(format!(
                    "{field}.{name} must be at most {} characters",
                    Self::MAX_FIELD
                ));
            }
            Ok(value)
        };
        let country = self.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "{field}.country must be an ISO 3166-1 alpha-2 code such as US"
            ));
        }
        Ok(ShippingAddress {
            name: trimmed("name", self.name)?,
            line1: trimmed("line1", self.line1)?,
            line2: self.line2.map(|l| trimmed("line2", l)).transpose()?,
            city: trimmed("city", self.city)?,
            postal_code: trimmed("postal_code", self.postal_code)?,
            country,
        })
    }

    /// One line for a message or a page: `Jane Doe, 1 Main St, Springfield 12345, US`.
    pub fn one_line(&self) -> String {
        let mut parts = vec![self.name.clone(), self.line1.clone()];
        parts.extend(self.line2.clone());
        parts.push(format!("{} {}", self.city, self.postal_code));
        parts.push(self.country.clone());
        parts.join(", ")
    }
}

/// inventory → payment: every line was reserved; pay for it.
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
    /// The request's payment method, passed on to payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// What payment authorizes: the total of the reserved lines.
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

/// order → notification: the order moved to `shipped` or `delivered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderStatusChanged {
    pub order_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub status: String,
}

/// `order.shipped`: same body as every status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct OrderShipped(pub OrderStatusChanged);

/// `order.delivered`: same body as every status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct OrderDelivered(pub OrderStatusChanged);

/// A customer's contact details as the customer service holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct CustomerDetails {
    pub customer_id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// Where the customer's orders go when a checkout names no address. Absent from
    /// events written before customers had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<ShippingAddress>,
}

/// customer → notification, cart: a customer was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CustomerCreated(pub CustomerDetails);

/// customer → notification, cart: a customer's details changed (the whole new record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CustomerUpdated(pub CustomerDetails);

/// customer → notification: a customer was deleted; forget their details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerDeleted {
    pub customer_id: Uuid,
}

/// inventory → notification: available stock of a SKU fell to or below its
/// threshold. Sent once per crossing, not on every later sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LowStock {
    pub product_sku: Sku,
    pub available: i32,
    pub threshold: i32,
}

/// product → cart: a catalog entry as it is now, on every create, update and delete
/// (`active: false`). `version` grows with every change of any SKU (one sequence, so a
/// SKU deleted and created again still moves forward): a consumer keeps the highest it
/// has seen and ignores an older or repeated one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductChanged {
    pub sku: Sku,
    pub name: String,
    pub price_cents: i64,
    pub active: bool,
    pub version: i64,
}

/// The card behind a payment method, as the provider reports it: the brand and the
/// last four digits are the most cartflow keeps of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
}

/// payment → order: the checkout's total is authorized (held, not yet captured). The
/// order is created from this, so it carries what the order keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentAuthorized {
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub payment_id: Uuid,
    pub amount_cents: i64,
    /// When the cart gives the checkout up; order creates no order after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardSummary>,
}

/// payment → inventory, cart, notification: the provider declined the payment (or the
/// checkout had no payment method); the reservation is released, the cart unlocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentDeclined {
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    /// `card_declined`, or `payment_method_missing`.
    pub reason: String,
    /// The provider's decline code, e.g. `generic_decline`, `insufficient_funds`.
    pub decline_code: Option<String>,
    /// The reserved lines, so inventory locks their stock rows with the batch's.
    pub items: Vec<LineItem>,
}

/// payment → notification: the order's payment was captured (a receipt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentCaptured {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub checkout_id: Uuid,
    pub customer_id: Uuid,
    pub amount_cents: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardSummary>,
}

/// payment → notification: a cancelled order's payment was refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentRefunded {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub checkout_id: Uuid,
    pub customer_id: Uuid,
    pub amount_cents: i64,
}

impl Checkout for PaymentAuthorized {
    fn cart_id(&self) -> Uuid {
        self.cart_id
    }
    fn checkout_id(&self) -> Option<Uuid> {
        Some(self.checkout_id)
    }
}

impl Checkout for PaymentDeclined {
    fn cart_id(&self) -> Uuid {
        self.cart_id
    }
    fn checkout_id(&self) -> Option<Uuid> {
        Some(self.checkout_id)
    }
}

crate::string_enum! {
    /// The way a notification reaches a person.
    pub enum Channel ("channel") {
        Email = "email",
        Push = "push",
    }
}

impl Channel {
    pub const BOTH: [Channel; 2] = [Channel::Email, Channel::Push];
}

/// notification → email-push: deliver this rendered notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryRequested {
    pub notification_id: Uuid,
    /// Whose it is (`None`: to staff, e.g. low stock); events older than this field
    /// have none.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    pub channel: Channel,
    /// An email address for email; the customer id for push.
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// email-push → notification: how a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryResult {
    pub notification_id: Uuid,
    pub channel: Channel,
    pub delivered: bool,
    pub attempts: i32,
    pub error: Option<String>,
}

macro_rules! event {
    ($ty:ty, $topic:expr, |$e:ident| $key:expr) => {
        impl Event for $ty {
            const TOPIC: Topic = $topic;
            fn ordering_key(&self) -> String {
                let $e = self;
                $key.to_string()
            }
        }
    };
}

event!(OrderRequested, Topic::OrderRequested, |e| e.cart_id);
event!(StockAvailable, Topic::StockAvailable, |e| e.cart_id);
event!(StockRejected, Topic::StockRejected, |e| e.cart_id);
event!(OrderCreated, Topic::OrderCreated, |e| e.order_id);
event!(OrderCancelled, Topic::OrderCancelled, |e| e.order_id);
event!(OrderShipped, Topic::OrderShipped, |e| e.0.order_id);
event!(OrderDelivered, Topic::OrderDelivered, |e| e.0.order_id);
event!(CustomerCreated, Topic::CustomerCreated, |e| e.0.customer_id);
event!(CustomerUpdated, Topic::CustomerUpdated, |e| e.0.customer_id);
event!(CustomerDeleted, Topic::CustomerDeleted, |e| e.customer_id);
event!(LowStock, Topic::LowStock, |e| e.product_sku.to_string());
event!(ProductChanged, Topic::ProductChanged, |e| e.sku.to_string());
event!(DeliveryRequested, Topic::DeliveryRequested, |e| e
    .notification_id);
event!(DeliveryResult, Topic::DeliveryResult, |e| e.notification_id);
event!(
    CheckoutExpireRequested,
    Topic::CheckoutExpireRequested,
    |e| e.cart_id
);
event!(CheckoutExpired, Topic::CheckoutExpired, |e| e.cart_id);
event!(PaymentAuthorized, Topic::PaymentAuthorized, |e| e.cart_id);
event!(PaymentDeclined, Topic::PaymentDeclined, |e| e.cart_id);
event!(PaymentCaptured, Topic::PaymentCaptured, |e| e.order_id);
event!(PaymentRefunded, Topic::PaymentRefunded, |e| e.order_id);

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

    #[test]
    fn totals_are_integer_cents() {
        let items = vec![
            LineItem {
                product_sku: Sku::parse("A").unwrap(),
                quantity: 3,
                unit_price_cents: 1999,
            },
            LineItem {
                product_sku: Sku::parse("B").unwrap(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ];
        assert_eq!(total_cents(&items), 5998);
    }
}

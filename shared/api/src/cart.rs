//! `GET /cart` and the cart routes' answers.

use cartflow_events::{LineItem, ShippingAddress, Shortage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

cartflow_events::string_enum! {
    pub enum CartStatus ("cart status") {
        /// Being filled.
        Open = "open",
        /// Locked: converted and waiting for inventory.
        CheckoutPending = "checkout_pending",
        /// Became an order (`order_id`). Adding items starts a new cart.
        Converted = "converted",
        /// Inventory could not reserve it (`rejection`); unlocked, editable, retryable.
        StockUnavailable = "stock_unavailable",
        /// The checkout was given up past its expiry; unlocked, editable, retryable.
        CheckoutExpired = "checkout_expired",
        /// The provider declined the payment (`rejection` says why); unlocked, editable,
        /// retryable with another payment method.
        PaymentDeclined = "payment_declined",
    }
}

impl CartStatus {
    /// A checkout ended in this status: converted, or one of the endings that leave
    /// the cart to edit and retry.
    pub fn is_an_ending(self) -> bool {
        self == Self::Converted || self.reopens_on_edit()
    }

    /// A checkout that ended without an order leaves the cart to edit: the first
    /// change makes it open again.
    pub fn reopens_on_edit(self) -> bool {
        matches!(
            self,
            Self::StockUnavailable | Self::CheckoutExpired | Self::PaymentDeclined
        )
    }
}

/// A line as the cart shows it: the price snapshot it was added at (the contract), and
/// the product's current price when that has changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartLine {
    #[serde(flatten)]
    pub item: LineItem,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_unit_price_cents: Option<i64>,
}

impl std::ops::Deref for CartLine {
    type Target = LineItem;
    fn deref(&self) -> &LineItem {
        &self.item
    }
}

/// Why the last checkout ended without an order: too little stock (`details` name the
/// lines), or a declined payment (`decline_code` says why, as the provider put it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rejection {
    pub reason: String,
    #[serde(default)]
    pub details: Vec<Shortage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cart {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub status: CartStatus,
    pub items: Vec<CartLine>,
    pub total_cents: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    /// The latest checkout attempt, and when it is given up if still pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Rejection>,
}

impl Cart {
    /// The lines as the checkout's events carry them (the snapshots).
    pub fn line_items(&self) -> Vec<LineItem> {
        self.items.iter().map(|line| line.item.clone()).collect()
    }
}

/// `POST /cart/convert-to-order`'s answer (202): the checkout started; its outcome
/// arrives as events, and `GET /cart` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckoutAccepted {
    pub cart_id: Uuid,
    pub checkout_id: Uuid,
    /// When the checkout is given up (and compensated) if it has not finished.
    pub checkout_expires_at: DateTime<Utc>,
    /// `checkout_pending`.
    pub status: CartStatus,
}

/// `POST /cart/convert-to-order`'s body: how the checkout pays (a payment method token
/// the provider issued, never card data) and where the order goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckoutRequest {
    pub payment_method: String,
    /// Where the order goes; without one, the customer's saved address (422 when they
    /// have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
}

impl CheckoutRequest {
    /// The sandbox's approving test card, as demos, seeds and load runs pay.
    pub const TEST_CARD: &'static str = "pm_card_visa";

    /// Paid with `payment_method`, shipped to the demo address.
    pub fn paid_with(payment_method: &str) -> CheckoutRequest {
        CheckoutRequest {
            payment_method: payment_method.into(),
            shipping_address: Some(ShippingAddress {
                name: "Jane Doe".into(),
                line1: "1 Market Street".into(),
                line2: None,
                city: "Springfield".into(),
                postal_code: "12345".into(),
                country: "US".into(),
            }),
        }
    }
}

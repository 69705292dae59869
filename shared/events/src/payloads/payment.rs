//! Payment: authorization, decline, capture and refund of a checkout's total.

use super::{Checkout, LineItem, ShippingAddress};
use crate::{Event, Topic};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

event!(PaymentAuthorized, Topic::PaymentAuthorized, |e| e.cart_id);
event!(PaymentDeclined, Topic::PaymentDeclined, |e| e.cart_id);
event!(PaymentCaptured, Topic::PaymentCaptured, |e| e.order_id);
event!(PaymentRefunded, Topic::PaymentRefunded, |e| e.order_id);

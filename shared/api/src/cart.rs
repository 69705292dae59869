//! `GET /cart` and the cart routes' answers.

use cartflow_events::{LineItem, Shortage};
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
    }
}

impl CartStatus {
    /// A checkout that ended without an order leaves the cart to edit: the first
    /// change makes it open again.
    pub fn reopens_on_edit(self) -> bool {
        matches!(self, Self::StockUnavailable | Self::CheckoutExpired)
    }
}

/// A line as the cart shows it: the price snapshot it was added at (the contract), and
/// the product's current price when that has changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Why the last checkout found too little stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub reason: String,
    pub details: Vec<Shortage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

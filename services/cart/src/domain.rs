//! Carts, their statuses, and the checks on what a customer sends.

use cartflow_events::{LineItem, Shortage, Sku};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_LINE_QUANTITY: i32 = 1000;
pub const MAX_LINES: usize = 100;

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
    pub items: Vec<LineItem>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub product_sku: String,
    pub quantity: i32,
}

/// A line a customer asked for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub sku: Sku,
    pub quantity: i32,
}

impl AddItem {
    pub fn parse(self) -> Result<NewLine, String> {
        let sku = Sku::parse(&self.product_sku)?;
        if !(1..=MAX_LINE_QUANTITY).contains(&self.quantity) {
            return Err(format!(
                "quantity must be between 1 and {MAX_LINE_QUANTITY}"
            ));
        }
        Ok(NewLine {
            sku,
            quantity: self.quantity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_must_be_positive_and_bounded() {
        let add = |q| {
            AddItem {
                product_sku: "A-1".into(),
                quantity: q,
            }
            .parse()
        };
        assert!(add(1).is_ok());
        assert!(add(0).unwrap_err().contains("quantity"));
        assert!(add(-3).is_err());
        assert!(add(MAX_LINE_QUANTITY + 1).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            "open",
            "checkout_pending",
            "converted",
            "stock_unavailable",
            "checkout_expired",
        ] {
            assert_eq!(CartStatus::parse(s).unwrap().as_str(), s);
        }
        for &status in CartStatus::ALL {
            assert_eq!(CartStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(CartStatus::parse("gone"), None);
    }
}

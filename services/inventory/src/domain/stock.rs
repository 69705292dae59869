//! Stock rows as the API shows and takes them, their limits, and when a change in
//! available units calls for a low-stock alert.

use serde::{Deserialize, Serialize};

pub const MAX_QUANTITY: i32 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockItem {
    pub sku: String,
    /// Units that can be sold now (the `available` column).
    pub quantity: i32,
    /// Units held for confirmed orders.
    pub reserved: i32,
    pub low_stock_threshold: i32,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStockItem {
    pub sku: String,
    pub quantity: i32,
    pub low_stock_threshold: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    pub quantity: i32,
}

pub fn check_quantity(name: &str, value: i32) -> Result<i32, String> {
    if (0..=MAX_QUANTITY).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{name} must be between 0 and {MAX_QUANTITY}"))
    }
}

/// True when a change from `before` to `after` available units takes a SKU to or
/// below its threshold from above it: one alert per crossing, none for later sales.
pub fn crosses_low_stock(before: i32, after: i32, threshold: i32) -> bool {
    before > threshold && after <= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_stock_fires_once_per_downward_crossing() {
        assert!(crosses_low_stock(5, 3, 3));
        assert!(crosses_low_stock(5, 0, 3));
        assert!(
            !crosses_low_stock(3, 2, 3),
            "already below: no second alert"
        );
        assert!(!crosses_low_stock(2, 5, 3), "going up never alerts");
        assert!(
            crosses_low_stock(1, 0, 0),
            "selling out crosses a zero threshold"
        );
    }
}

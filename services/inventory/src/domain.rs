//! Stock items, and the pure decision of whether a checkout can be reserved.

use cartflow_events::{LineItem, Shortage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_QUANTITY: i32 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StockItem {
    pub sku: String,
    /// Units that can be sold now.
    #[sqlx(rename = "available")]
    pub quantity: i32,
    /// Units held for confirmed orders.
    pub reserved: i32,
    pub low_stock_threshold: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStockItem {
    pub sku: String,
    pub quantity: i32,
    pub low_stock_threshold: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
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

/// Requested units per SKU, summed over lines, in SKU order: the order in which rows
/// are locked, so that concurrent reservations never deadlock.
pub fn requested_per_sku(items: &[LineItem]) -> Result<BTreeMap<String, i32>, String> {
    if items.is_empty() {
        return Err("the request has no lines".into());
    }
    let mut wanted = BTreeMap::new();
    for item in items {
        if item.quantity <= 0 {
            return Err(format!(
                "line {} has quantity {}",
                item.product_sku, item.quantity
            ));
        }
        let total: &mut i32 = wanted.entry(item.product_sku.clone()).or_default();
        *total = total
            .checked_add(item.quantity)
            .ok_or_else(|| format!("quantity of {} overflows", item.product_sku))?;
    }
    Ok(wanted)
}

/// The lines that cannot be served from `available` (a missing SKU has 0 available).
pub fn shortages(
    wanted: &BTreeMap<String, i32>,
    available: &BTreeMap<String, i32>,
) -> Vec<Shortage> {
    wanted
        .iter()
        .filter_map(|(sku, &requested)| {
            let available = available.get(sku).copied().unwrap_or(0);
            (available < requested).then(|| Shortage {
                product_sku: sku.clone(),
                requested,
                available,
            })
        })
        .collect()
}

cartflow_events::string_enum! {
    /// What inventory decided for one checkout. Only `Reserved` holds stock; the others
    /// are kept so a later request for the same checkout is not decided again.
    pub enum ReservationStatus ("reservation status") {
        Reserved = "reserved",
        /// Returned (cancelled order or given-up checkout).
        Released = "released",
        /// The stock was short.
        Rejected = "rejected",
        /// Order gave the checkout up before inventory saw its request.
        Expired = "expired",
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

    fn line(sku: &str, quantity: i32) -> LineItem {
        LineItem {
            product_sku: sku.into(),
            quantity,
            unit_price_cents: 100,
        }
    }

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

    #[test]
    fn reservation_statuses_round_trip() {
        for &status in ReservationStatus::ALL {
            assert_eq!(ReservationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReservationStatus::parse("held"), None);
    }

    #[test]
    fn repeated_skus_are_summed_and_sorted() {
        let wanted = requested_per_sku(&[line("B", 1), line("A", 2), line("B", 3)]).unwrap();
        assert_eq!(
            wanted.into_iter().collect::<Vec<_>>(),
            vec![("A".into(), 2), ("B".into(), 4)]
        );
    }

    #[test]
    fn empty_or_non_positive_requests_are_refused() {
        assert!(requested_per_sku(&[]).is_err());
        assert!(requested_per_sku(&[line("A", 0)]).is_err());
    }

    #[test]
    fn shortage_lists_every_short_line_including_unknown_skus() {
        let wanted = requested_per_sku(&[line("A", 2), line("B", 5), line("C", 1)]).unwrap();
        let available = BTreeMap::from([("A".to_string(), 2), ("B".to_string(), 4)]);
        let short = shortages(&wanted, &available);
        assert_eq!(
            short,
            vec![
                Shortage {
                    product_sku: "B".into(),
                    requested: 5,
                    available: 4
                },
                Shortage {
                    product_sku: "C".into(),
                    requested: 1,
                    available: 0
                },
            ]
        );
    }
}

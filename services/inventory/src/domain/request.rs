//! What a checkout asks for: units per SKU, checked, and the lines stock cannot serve.

use cartflow_events::{LineItem, Shortage, Sku};
use std::collections::BTreeMap;

/// Requested units per SKU, summed over lines, in SKU order: the order in which rows
/// are locked, so that concurrent reservations never deadlock.
pub fn requested_per_sku(items: &[LineItem]) -> Result<BTreeMap<Sku, i32>, String> {
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
pub fn shortages(wanted: &BTreeMap<Sku, i32>, available: &BTreeMap<String, i32>) -> Vec<Shortage> {
    wanted
        .iter()
        .filter_map(|(sku, &requested)| {
            let available = available.get(sku.as_str()).copied().unwrap_or(0);
            (available < requested).then(|| Shortage {
                product_sku: sku.clone(),
                requested,
                available,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{line, sku};
    use super::*;

    #[test]
    fn repeated_skus_are_summed_and_sorted() {
        let wanted = requested_per_sku(&[line("B", 1), line("A", 2), line("B", 3)]).unwrap();
        assert_eq!(
            wanted.into_iter().collect::<Vec<_>>(),
            vec![(sku("A"), 2), (sku("B"), 4)]
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
                    product_sku: sku("B"),
                    requested: 5,
                    available: 4
                },
                Shortage {
                    product_sku: sku("C"),
                    requested: 1,
                    available: 0
                },
            ]
        );
    }
}

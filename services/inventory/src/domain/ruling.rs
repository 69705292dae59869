//! The decision on a checkout's request: reserve, reject, or stand by what was
//! decided before; alone ([`rule`]) or for several requests in order ([`rule_in_order`]).

use super::{crosses_low_stock, shortages};
use cartflow_events::{LineItem, LowStock, Shortage, Sku};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

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
        /// Payment declined the checkout before inventory saw its request (payment runs
        /// beside the reservation).
        Declined = "declined",
    }
}

/// Available units and alert threshold of a (locked) stock row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub available: i32,
    pub threshold: i32,
}

/// What inventory does with a checkout's request. Decided once per checkout: whatever
/// was decided before stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ruling {
    /// Reserved before (the cart re-sent its request): announce the reservation again.
    AnnounceAgain,
    /// Decided before otherwise (rejected, released, or given up): do nothing.
    AlreadyDecided(ReservationStatus),
    /// Short of stock: reserve nothing, and say which lines.
    Reject(Vec<Shortage>),
    /// Every line fits: reserve them all, and alert on each SKU this takes to or below
    /// its threshold.
    Reserve { low_stock: Vec<LowStock> },
}

/// Rules on a request for `wanted` units per SKU, given the checkout's earlier
/// decision (if any) and the locked `levels` (a missing SKU has none available).
pub fn rule(
    previous: Option<ReservationStatus>,
    wanted: &BTreeMap<Sku, i32>,
    levels: &BTreeMap<String, Level>,
) -> Ruling {
    match previous {
        Some(ReservationStatus::Reserved) => return Ruling::AnnounceAgain,
        Some(status) => return Ruling::AlreadyDecided(status),
        None => {}
    }
    let available = levels
        .iter()
        .map(|(sku, level)| (sku.clone(), level.available))
        .collect();
    let short = shortages(wanted, &available);
    if !short.is_empty() {
        return Ruling::Reject(short);
    }
    let low_stock = wanted
        .iter()
        .filter_map(|(sku, &units)| {
            let level = levels.get(sku.as_str())?;
            let after = level.available - units;
            crosses_low_stock(level.available, after, level.threshold).then(|| LowStock {
                product_sku: sku.clone(),
                available: after,
                threshold: level.threshold,
            })
        })
        .collect();
    Ruling::Reserve { low_stock }
}

/// What was decided for a checkout before: its status and lines.
pub type Decided = (ReservationStatus, Vec<LineItem>);

/// One request of several to rule on together.
pub struct Request<'a> {
    pub checkout_id: Uuid,
    /// Units per SKU ([`requested_per_sku`]).
    pub wanted: &'a BTreeMap<Sku, i32>,
    pub items: &'a [LineItem],
}

/// A ruling, and for [`Ruling::AnnounceAgain`] the lines reserved before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruled {
    pub ruling: Ruling,
    pub earlier_reservation: Vec<LineItem>,
}

/// Rules on `requests` in order, as if one after another: each against the `levels`
/// the earlier reservations left and the decisions (`decided`, per checkout: what was
/// decided before) the earlier requests took. One ruling per request.
pub fn rule_in_order(
    requests: &[Request<'_>],
    mut levels: BTreeMap<String, Level>,
    mut decided: HashMap<Uuid, Decided>,
) -> Vec<Ruled> {
    let mut ruled = Vec::with_capacity(requests.len());
    for request in requests {
        let previous = decided.get(&request.checkout_id);
        let ruling = rule(previous.map(|(status, _)| *status), request.wanted, &levels);
        let earlier_reservation = match ruling {
            Ruling::AnnounceAgain => previous.map(|(_, items)| items.clone()).unwrap_or_default(),
            _ => Vec::new(),
        };
        let status = match &ruling {
            Ruling::Reserve { .. } => {
                for (sku, units) in request.wanted {
                    let level = levels
                        .get_mut(sku.as_str())
                        .expect("reserved from stocked rows");
                    level.available -= units;
                }
                Some(ReservationStatus::Reserved)
            }
            Ruling::Reject(_) => Some(ReservationStatus::Rejected),
            Ruling::AnnounceAgain | Ruling::AlreadyDecided(_) => None,
        };
        if let Some(status) = status {
            decided.insert(request.checkout_id, (status, request.items.to_vec()));
        }
        ruled.push(Ruled {
            ruling,
            earlier_reservation,
        });
    }
    ruled
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{line, sku};
    use super::*;

    #[test]
    fn reservation_statuses_round_trip() {
        for &status in ReservationStatus::ALL {
            assert_eq!(ReservationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReservationStatus::parse("held"), None);
    }

    fn levels(pairs: &[(&str, i32, i32)]) -> BTreeMap<String, Level> {
        pairs
            .iter()
            .map(|&(sku, available, threshold)| {
                (
                    sku.to_string(),
                    Level {
                        available,
                        threshold,
                    },
                )
            })
            .collect()
    }

    fn wanted(pairs: &[(&str, i32)]) -> BTreeMap<Sku, i32> {
        pairs.iter().map(|&(s, n)| (sku(s), n)).collect()
    }

    #[test]
    fn a_checkout_is_ruled_on_once() {
        let stock = levels(&[("A", 10, 0)]);
        let want = wanted(&[("A", 2)]);
        assert_eq!(
            rule(Some(ReservationStatus::Reserved), &want, &stock),
            Ruling::AnnounceAgain
        );
        for earlier in [
            ReservationStatus::Rejected,
            ReservationStatus::Released,
            ReservationStatus::Expired,
        ] {
            assert_eq!(
                rule(Some(earlier), &want, &stock),
                Ruling::AlreadyDecided(earlier)
            );
        }
    }

    #[test]
    fn all_lines_or_none_and_a_missing_sku_has_nothing() {
        let stock = levels(&[("A", 10, 0), ("B", 1, 0)]);
        match rule(None, &wanted(&[("A", 2), ("B", 3), ("C", 1)]), &stock) {
            Ruling::Reject(short) => {
                let skus: Vec<&str> = short.iter().map(|s| s.product_sku.as_str()).collect();
                assert_eq!(skus, ["B", "C"]);
                assert_eq!((short[0].requested, short[0].available), (3, 1));
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(
            rule(None, &wanted(&[("A", 9)]), &stock),
            Ruling::Reserve { low_stock: vec![] }
        );
    }

    #[test]
    fn a_reservation_that_crosses_a_threshold_alerts_once_for_that_sku() {
        let stock = levels(&[("A", 6, 5), ("B", 3, 5)]);
        let Ruling::Reserve { low_stock } = rule(None, &wanted(&[("A", 1), ("B", 1)]), &stock)
        else {
            panic!("expected a reservation");
        };
        // A crosses (6 → 5); B was below already (3 → 2): no second alert.
        assert_eq!(low_stock.len(), 1);
        assert_eq!(low_stock[0].product_sku, "A");
        assert_eq!((low_stock[0].available, low_stock[0].threshold), (5, 5));
    }

    fn one_line(sku_text: &str, quantity: i32) -> Vec<LineItem> {
        vec![line(sku_text, quantity)]
    }

    #[test]
    fn requests_ruled_together_see_what_the_earlier_ones_left() {
        let wants = [
            wanted(&[("A", 3)]),
            wanted(&[("A", 3)]),
            wanted(&[("A", 2)]),
        ];
        let lines = one_line("A", 3);
        let requests: Vec<Request> = wants
            .iter()
            .map(|w| Request {
                checkout_id: Uuid::new_v4(),
                wanted: w,
                items: &lines,
            })
            .collect();
        let ruled = rule_in_order(&requests, levels(&[("A", 5, 2)]), HashMap::new());
        let kinds: Vec<&Ruling> = ruled.iter().map(|r| &r.ruling).collect();
        // 5 → 2 crosses the threshold of 2; the second wants 3 of the 2 left; the third
        // takes 2 → 0, already at the threshold, so it does not alert again.
        assert!(matches!(kinds[0], Ruling::Reserve { low_stock } if low_stock.len() == 1));
        assert!(matches!(kinds[1], Ruling::Reject(short) if short[0].available == 2));
        assert!(matches!(kinds[2], Ruling::Reserve { low_stock } if low_stock.is_empty()));
    }

    #[test]
    fn a_checkout_ruled_on_twice_together_is_decided_by_the_first() {
        let want = wanted(&[("A", 4)]);
        let lines = one_line("A", 4);
        let checkout_id = Uuid::new_v4();
        let again = Request {
            checkout_id,
            wanted: &want,
            items: &lines,
        };
        let twice = [
            Request {
                checkout_id,
                wanted: &want,
                items: &lines,
            },
            again,
        ];
        let ruled = rule_in_order(&twice, levels(&[("A", 10, 0)]), HashMap::new());
        assert!(matches!(ruled[0].ruling, Ruling::Reserve { .. }));
        assert_eq!(ruled[1].ruling, Ruling::AnnounceAgain);
        assert_eq!(ruled[1].earlier_reservation, lines);
        // Rejected first: the second is not ruled on again, even with stock for it.
        let ruled = rule_in_order(&twice, levels(&[("A", 3, 0)]), HashMap::new());
        assert!(matches!(ruled[0].ruling, Ruling::Reject(_)));
        assert_eq!(
            ruled[1].ruling,
            Ruling::AlreadyDecided(ReservationStatus::Rejected)
        );
        // Decided before the batch: announced from what was reserved then.
        let before =
            HashMap::from([(checkout_id, (ReservationStatus::Reserved, one_line("A", 1)))]);
        let ruled = rule_in_order(&twice[..1], levels(&[("A", 10, 0)]), before);
        assert_eq!(ruled[0].ruling, Ruling::AnnounceAgain);
        assert_eq!(ruled[0].earlier_reservation, one_line("A", 1));
    }
}

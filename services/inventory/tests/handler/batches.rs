//! Requests applied as one batch: ruled on in event-id order on what the earlier ones
//! left, a rejected one leaving all its lines, an expiry within the batch, a checkout
//! twice, and a low-stock alert once.

use super::{expired, inventory, levels, request, request_of};
use cartflow_events::{LowStock, OrderRequested, StockAvailable, StockRejected};
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::{HandlerHarness, message};

/// Applies `requests` as one batch and insists that every one was processed.
async fn processed_together(inventory: &HandlerHarness, requests: &[OrderRequested]) {
    let applied = inventory
        .deliver_batch(requests)
        .await
        .expect("the batch commits");
    assert!(
        applied.iter().all(|a| matches!(a, Ok(Outcome::Processed))),
        "{applied:?}"
    );
    assert_eq!(
        inventory.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
}

/// Checks that of three requests the first and last were reserved and the middle one
/// rejected, and returns the rejection.
async fn only_the_middle_rejected(
    inventory: &HandlerHarness,
    batch: &[OrderRequested; 3],
) -> StockRejected {
    let reserved: Vec<_> = inventory.staged::<StockAvailable>().await;
    let reserved: Vec<_> = reserved.iter().map(|a| a.checkout_id).collect();
    assert_eq!(reserved, [batch[0].checkout_id, batch[2].checkout_id]);
    let mut rejected = inventory.staged::<StockRejected>().await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].checkout_id, batch[1].checkout_id);
    rejected.remove(0)
}

/// A batch's requests are ruled on together, but as if one after another in event-id
/// order: each against what the earlier ones left, never the levels the batch began with.
#[tokio::test]
async fn a_batch_rules_each_request_on_what_the_earlier_ones_left() {
    let inventory = inventory(&[("A", 5)]).await;
    let batch = [request("A", 3), request("A", 3), request("A", 2)];
    processed_together(&inventory, &batch).await;
    assert_eq!(levels(&inventory, "A").await, (0, 5));
    let rejected = only_the_middle_rejected(&inventory, &batch).await;
    assert_eq!(
        (rejected.details[0].requested, rejected.details[0].available),
        (3, 2),
        "the second was short of what the first left"
    );
    let decided = "SELECT count(*) FROM reservations WHERE status IN ('reserved', 'rejected')";
    assert_eq!(inventory.count(decided).await, 3);
}

/// A request of a batch that is short on one of its lines takes none of them: the
/// requests after it are ruled on levels that still hold its other lines' units.
#[tokio::test]
async fn a_rejected_request_of_a_batch_leaves_all_its_lines_to_the_next() {
    let inventory = inventory(&[("A", 5), ("B", 1)]).await;
    let batch = [
        request_of(&[("A", 2), ("B", 1)]),
        request_of(&[("A", 2), ("B", 1)]),
        request("A", 3),
    ];
    processed_together(&inventory, &batch).await;
    assert_eq!(levels(&inventory, "A").await, (0, 5));
    assert_eq!(levels(&inventory, "B").await, (0, 1));
    let rejected = only_the_middle_rejected(&inventory, &batch).await;
    let short: Vec<_> = rejected
        .details
        .iter()
        .map(|d| (d.requested, d.available))
        .collect();
    assert_eq!(short, [(1, 0)], "only B was short: {rejected:?}");
}

/// A batch that mixes topics (none does today: each subscription has its own
/// consumer) still applies in event-id order: a request after an expiry is ruled on
/// the stock the expiry returned, not ahead of it.
#[tokio::test]
async fn a_request_after_an_expiry_in_one_batch_is_ruled_on_the_stock_it_returned() {
    let inventory = inventory(&[("A", 6)]).await;
    let held = request("A", 3);
    inventory.processed(&held).await;
    let (before, after) = (request("A", 3), request("A", 3));
    let applied = inventory
        .deliver_mixed(vec![
            message(&before),
            message(&expired(&held)),
            message(&after),
        ])
        .await
        .expect("the batch commits");
    assert!(
        applied.iter().all(|a| matches!(a, Ok(Outcome::Processed))),
        "{applied:?}"
    );
    assert_eq!(levels(&inventory, "A").await, (0, 6));
    let rejected = inventory.staged::<StockRejected>().await;
    assert!(rejected.is_empty(), "{rejected:?}");
    let reserved: Vec<_> = inventory.staged::<StockAvailable>().await;
    let reserved: Vec<_> = reserved.iter().map(|a| a.checkout_id).collect();
    assert_eq!(
        reserved,
        [held.checkout_id, before.checkout_id, after.checkout_id]
    );
    assert_eq!(
        inventory.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
}

/// A checkout requested twice within one batch (a re-send under another event id)
/// reserves once and is answered twice, as it would be in two batches.
#[tokio::test]
async fn a_checkout_requested_twice_in_one_batch_reserves_once_and_is_answered_twice() {
    let inventory = inventory(&[("A", 10), ("B", 10)]).await;
    let first = request("A", 3);
    let other = request("B", 1);
    processed_together(&inventory, &[first.clone(), other, first.clone()]).await;
    assert_eq!(levels(&inventory, "A").await, (7, 3));
    assert_eq!(levels(&inventory, "B").await, (9, 1));
    let answers = inventory.staged::<StockAvailable>().await;
    let for_first = answers
        .iter()
        .filter(|a| a.checkout_id == first.checkout_id)
        .count();
    assert_eq!((answers.len(), for_first), (3, 2));
}

/// The low-stock alert fires for the request of the batch that crosses the threshold,
/// once, however many requests of the batch take the SKU.
#[tokio::test]
async fn a_batch_that_crosses_a_threshold_alerts_once() {
    let inventory = inventory(&[("A", 6)]).await;
    sqlx::query("UPDATE stock_items SET low_stock_threshold = 3")
        .execute(inventory.pool())
        .await
        .unwrap();
    processed_together(
        &inventory,
        &[request("A", 2), request("A", 2), request("A", 1)],
    )
    .await;
    assert_eq!(levels(&inventory, "A").await, (1, 5));
    let alerts = inventory.staged::<LowStock>().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!((alerts[0].available, alerts[0].threshold), (2, 3));
}

//! Inventory's handler on a database of its own (the per-service layer: no Pub/Sub, no
//! other service). Each checkout is decided once, whatever arrives, in whatever order.

use cartflow_events::{
    CheckoutExpired, LineItem, LowStock, OrderCancelled, OrderRequested, PaymentDeclined,
    StockAvailable, StockRejected,
};
use cartflow_messaging::HandlerError;
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::eventually;
use cartflow_testkit::{HandlerHarness, envelope_for, message};
use inventory_service::InventoryApp;
use inventory_service::handlers::InventoryHandler;
use std::sync::Arc;
use uuid::Uuid;

async fn inventory(stock: &[(&str, i32)]) -> HandlerHarness {
    let harness = HandlerHarness::new::<InventoryApp>(Arc::new(InventoryHandler)).await;
    for (sku, available) in stock {
        sqlx::query("INSERT INTO stock_items (sku, available) VALUES ($1, $2)")
            .bind(sku)
            .bind(available)
            .execute(harness.pool())
            .await
            .unwrap();
    }
    harness
}

async fn levels(harness: &HandlerHarness, sku: &str) -> (i32, i32) {
    sqlx::query_as("SELECT available, reserved FROM stock_items WHERE sku = $1")
        .bind(sku)
        .fetch_one(harness.pool())
        .await
        .unwrap()
}

fn request(sku: &str, quantity: i32) -> OrderRequested {
    request_of(&[(sku, quantity)])
}

/// A checkout's request for these lines: (SKU, quantity).
fn request_of(lines: &[(&str, i32)]) -> OrderRequested {
    OrderRequested {
        cart_id: Uuid::new_v4(),
        checkout_id: Some(Uuid::new_v4()),
        expires_at: None,
        customer_id: Uuid::new_v4(),
        items: lines
            .iter()
            .map(|&(sku, quantity)| LineItem {
                product_sku: cartflow_events::Sku::parse(sku).unwrap(),
                quantity,
                unit_price_cents: 100,
            })
            .collect(),
        payment_method: Some("pm_card_visa".into()),
        shipping_address: None,
    }
}

fn expired(request: &OrderRequested) -> CheckoutExpired {
    CheckoutExpired {
        checkout_id: request.checkout_id.unwrap(),
        cart_id: request.cart_id,
        customer_id: request.customer_id,
        items: request.items.clone(),
    }
}

fn cancelled(request: &OrderRequested) -> OrderCancelled {
    OrderCancelled {
        order_id: Uuid::new_v4(),
        cart_id: request.cart_id,
        checkout_id: request.checkout_id,
        customer_id: request.customer_id,
        items: request.items.clone(),
        reason: "test".into(),
    }
}

#[tokio::test]
async fn a_re_sent_request_is_answered_from_the_reservation_and_reserves_nothing_more() {
    let inventory = inventory(&[("A", 10)]).await;
    let first = request("A", 3);
    inventory.processed(&first).await;
    // The cart's deadline passed: the same checkout, requested under a new event id.
    inventory.processed(&first).await;
    assert_eq!(levels(&inventory, "A").await, (7, 3));
    let answers = inventory.staged::<StockAvailable>().await;
    assert_eq!(answers.len(), 2, "answered every time");
    assert!(answers.iter().all(|a| a.checkout_id == first.checkout_id));
    // One message delivered twice is skipped by the inbox.
    let once = envelope_for::<OrderRequested>(first.cart_id);
    inventory.deliver_as(&once, &first).await.unwrap();
    let again = inventory.deliver_as(&once, &first).await.unwrap();
    assert_eq!(again, Outcome::Duplicate);
    assert_eq!(levels(&inventory, "A").await, (7, 3));
}

#[tokio::test]
async fn a_rejected_checkout_stays_rejected_when_stock_arrives_later() {
    let inventory = inventory(&[("A", 2)]).await;
    let short = request("A", 5);
    inventory.processed(&short).await;
    assert_eq!(inventory.staged::<StockRejected>().await.len(), 1);
    // Stock arrives; a late re-send of the rejected checkout must not reserve it: the
    // cart was told and unlocked.
    sqlx::query("UPDATE stock_items SET available = 50 WHERE sku = 'A'")
        .execute(inventory.pool())
        .await
        .unwrap();
    inventory.processed(&short).await;
    assert_eq!(levels(&inventory, "A").await, (50, 0));
    assert!(inventory.staged::<StockAvailable>().await.is_empty());
}

#[tokio::test]
async fn an_expiry_before_the_request_makes_the_late_request_reserve_nothing() {
    let inventory = inventory(&[("A", 10)]).await;
    let late = request("A", 4);
    inventory.processed(&expired(&late)).await;
    inventory.processed(&late).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    assert!(inventory.staged::<StockAvailable>().await.is_empty());
    assert!(inventory.staged::<StockRejected>().await.is_empty());
    // No event says what happened, so each consumption carries a note for the timeline.
    let late_note = "checkout given up before its request came: nothing will be reserved";
    let expected = [
        ("checkout.expired", late_note),
        ("order-requested", late_note),
    ]
    .map(|(topic, note)| (topic.to_string(), note.to_string()));
    assert_eq!(notes(&inventory).await, expected);
}

/// The notes on inventory's inbox rows, oldest first (a row without one is left out).
async fn notes(inventory: &HandlerHarness) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT event_type, note FROM processed_messages WHERE note IS NOT NULL
         ORDER BY processed_at, event_type",
    )
    .fetch_all(inventory.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn an_expiry_after_the_reservation_returns_the_stock_once() {
    let inventory = inventory(&[("A", 10)]).await;
    let checkout = request("A", 4);
    inventory.processed(&checkout).await;
    assert_eq!(levels(&inventory, "A").await, (6, 4));
    // Announced twice (a re-sent expiry request), under two event ids.
    inventory.processed(&expired(&checkout)).await;
    inventory.processed(&expired(&checkout)).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    // A cancellation of the same checkout afterwards finds nothing to return.
    inventory.processed(&cancelled(&checkout)).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    let notes: Vec<String> = notes(&inventory)
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(
        notes,
        [
            "checkout given up: reservation released, stock returned",
            "checkout given up: nothing held",
            "order cancelled: no active reservation to release",
        ],
        "a note per compensation, none for the reservation (its event says it)"
    );
}

/// A reservation passes the checkout's payment method and total on to payment; a
/// declined payment gives the stock back exactly once, however often it is said.
#[tokio::test]
async fn a_declined_payment_returns_the_reserved_stock_once() {
    let inventory = inventory(&[("A", 10), ("B", 5)]).await;
    let request = request_of(&[("A", 3), ("B", 1)]);
    inventory.processed(&request).await;
    assert_eq!(levels(&inventory, "A").await, (7, 3));
    let available = inventory.staged::<StockAvailable>().await;
    assert_eq!(available[0].payment_method.as_deref(), Some("pm_card_visa"));
    assert_eq!(available[0].total_cents, Some(400));
    let declined = PaymentDeclined {
        checkout_id: request.checkout_id.unwrap(),
        cart_id: request.cart_id,
        customer_id: request.customer_id,
        reason: "card_declined".into(),
        decline_code: Some("insufficient_funds".into()),
        items: request.items.clone(),
    };
    inventory.processed(&declined).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    assert_eq!(levels(&inventory, "B").await, (5, 0));
    // Said again under another event id: nothing more comes back.
    inventory.processed(&declined).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    assert_eq!(levels(&inventory, "B").await, (5, 0));
}

#[tokio::test]
async fn events_from_before_checkout_ids_are_keyed_by_their_cart() {
    let inventory = inventory(&[("A", 10)]).await;
    let old = OrderRequested {
        checkout_id: None,
        ..request("A", 2)
    };
    inventory.processed(&old).await;
    assert_eq!(levels(&inventory, "A").await, (8, 2));
    let keyed_by_cart = format!(
        "SELECT count(*) FROM reservations WHERE checkout_id = '{}'",
        old.cart_id
    );
    assert_eq!(inventory.count(&keyed_by_cart).await, 1);
    inventory.processed(&cancelled(&old)).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
}

/// An event is read into the domain's types: a line whose SKU is malformed makes the
/// request poison (dead-lettered after its attempts), and nothing is reserved.
#[tokio::test]
async fn a_request_with_a_malformed_sku_is_poison_and_reserves_nothing() {
    let inventory = inventory(&[("KB-1", 10)]).await;
    let mut json = serde_json::to_value(request("KB-1", 2)).unwrap();
    json["items"][0]["product_sku"] = "KB 1; DROP".into();
    let refused = inventory.deliver_json::<OrderRequested>(&json).await;
    assert!(
        matches!(&refused, Err(HandlerError::Poison(why)) if why.contains("product_sku")),
        "{refused:?}"
    );
    assert_eq!(levels(&inventory, "KB-1").await, (10, 0));
    assert_eq!(
        inventory.count("SELECT count(*) FROM reservations").await,
        0
    );
}

/// A repeated request that races the first for a checkout whose SKUs are not stocked
/// (no stock rows to queue on) meets it at the decision row, and answers nothing more:
/// the customer hears of the rejection once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_racing_the_first_over_unstocked_skus_rejects_once() {
    let inventory = inventory(&[]).await;
    let request = request("NOPE-1", 1);
    // The first request's decision, not yet committed.
    let mut first = inventory.pool().begin().await.unwrap();
    sqlx::query(
        "INSERT INTO reservations (checkout_id, cart_id, customer_id, items, status)
         VALUES ($1, $2, $3, '[]', 'rejected')",
    )
    .bind(request.checkout_id.unwrap())
    .bind(request.cart_id)
    .bind(request.customer_id)
    .execute(&mut *first)
    .await
    .unwrap();
    let waits = "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let release = async {
        eventually("the repeat to wait for the first's decision", || async {
            (inventory.count(waits).await > 0).then_some(())
        })
        .await;
        first.commit().await.unwrap();
    };
    let (repeat, ()) = tokio::join!(inventory.deliver(&request), release);
    assert!(matches!(repeat, Ok(Outcome::Processed)), "{repeat:?}");
    assert!(
        inventory.staged::<StockRejected>().await.is_empty(),
        "the first request answers; the repeat does not"
    );
}

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

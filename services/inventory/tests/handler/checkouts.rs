//! One checkout decided once: a re-sent request, a rejection, an expiry before or after
//! the reservation, a declined payment, old cart-keyed events, a malformed SKU and a
//! racing repeat.

use super::{cancelled, expired, inventory, levels, request, request_of};
use cartflow_events::{OrderRequested, PaymentDeclined, StockAvailable, StockRejected};
use cartflow_messaging::HandlerError;
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::{HandlerHarness, envelope_for, eventually};

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

/// The notes alone, oldest first.
async fn note_texts(inventory: &HandlerHarness) -> Vec<String> {
    notes(inventory).await.into_iter().map(|(_, n)| n).collect()
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
    let notes = note_texts(&inventory).await;
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
    let declined = declined(&request);
    inventory.processed(&declined).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    assert_eq!(levels(&inventory, "B").await, (5, 0));
    // Said again under another event id: nothing more comes back.
    inventory.processed(&declined).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    assert_eq!(levels(&inventory, "B").await, (5, 0));
}

fn declined(request: &OrderRequested) -> PaymentDeclined {
    PaymentDeclined {
        checkout_id: request.checkout_id.unwrap(),
        cart_id: request.cart_id,
        customer_id: request.customer_id,
        reason: "card_declined".into(),
        decline_code: Some("insufficient_funds".into()),
        items: request.items.clone(),
    }
}

/// Payment answers beside the reservation, so its decline can come first: the request,
/// when it comes, reserves nothing and says nothing (the cart was unlocked by the
/// decline), and a later expiry finds nothing to return.
#[tokio::test]
async fn a_decline_before_the_request_makes_the_late_request_reserve_nothing() {
    let inventory = inventory(&[("A", 10)]).await;
    let late = request("A", 4);
    inventory.processed(&declined(&late)).await;
    inventory.processed(&late).await;
    inventory.processed(&expired(&late)).await;
    assert_eq!(levels(&inventory, "A").await, (10, 0));
    assert!(inventory.staged::<StockAvailable>().await.is_empty());
    assert!(inventory.staged::<StockRejected>().await.is_empty());
    let notes = note_texts(&inventory).await;
    assert_eq!(
        notes,
        [
            "payment declined before the request came: nothing will be reserved",
            "payment declined before the request came: nothing reserved",
            "checkout given up: nothing held",
        ]
    );
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

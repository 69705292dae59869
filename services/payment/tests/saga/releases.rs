//! Holds that end without a capture: an expiry before or during the authorization, a
//! hold without an order, an intent already released, a capture refused after a
//! cancellation.

use super::{cancelled, expired, ordered, payments, requested};
use cartflow_events::{PaymentAuthorized, PaymentCaptured, StockRejected};
use cartflow_testkit::eventually;
use uuid::Uuid;

/// The checkout is given up while its authorization is out: the hold is released
/// when it arrives and never announced, so no order can be made from it.
#[tokio::test]
async fn an_authorization_that_lands_after_the_expiry_is_voided_not_announced() {
    let payments = payments(&[("PROVIDER_TIMEOUT_MS", "2000")], 700).await;
    let checkout = requested(Some("pm_card_slow"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    eventually("the authorization is out", || async {
        (!payments.ledger().intents.is_empty() || payments.status(checkout_id).await.is_some())
            .then_some(())
    })
    .await;
    payments.harness.processed(&expired(&checkout)).await;
    payments.reaches(checkout_id, "voided").await;
    assert!(
        payments
            .harness
            .staged::<PaymentAuthorized>()
            .await
            .is_empty()
    );
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.voids),
        (1, 1),
        "{ledger:?}"
    );
    assert_eq!(ledger.totals.capturable, 0, "nothing held");
}

/// Given up before payment heard of it: a late reservation asks the provider nothing.
#[tokio::test]
async fn a_checkout_given_up_first_is_never_authorized() {
    let payments = payments(&[], 3000).await;
    let checkout = requested(Some("pm_card_visa"));
    payments.harness.processed(&expired(&checkout)).await;
    payments.harness.processed(&checkout).await;
    assert_eq!(
        payments
            .status(checkout.checkout_id.unwrap())
            .await
            .as_deref(),
        Some("abandoned")
    );
    // A later checkout the worker does authorize: by then it has had every chance to
    // ask for the given-up one, and did not.
    let later = requested(Some("pm_card_visa"));
    payments.authorized(&later).await;
    let ledger = payments.ledger();
    assert_eq!(
        ledger.intents.len(),
        1,
        "the later checkout's only: {ledger:?}"
    );
}

/// An authorized checkout given up (the order was never made) releases its hold; a
/// cancelled order that was never captured is voided, not refunded.
#[tokio::test]
async fn holds_without_an_order_are_voided() {
    let payments = payments(&[], 3000).await;
    let checkout = requested(Some("pm_card_visa"));
    payments.authorized(&checkout).await;
    payments.harness.processed(&expired(&checkout)).await;
    payments
        .reaches(checkout.checkout_id.unwrap(), "voided")
        .await;
    let ledger = payments.ledger();
    assert_eq!(
        (
            ledger.counts.voids,
            ledger.totals.capturable,
            ledger.totals.captured
        ),
        (1, 0, 0)
    );
}

/// Released at the provider behind cartflow's back (by hand, or lapsed): the void is
/// refused, the intent says canceled, and the payment is recorded voided.
#[tokio::test]
async fn a_void_of_an_intent_already_canceled_is_recorded_voided() {
    let payments = payments(&[], 3000).await;
    let checkout = requested(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.authorized(&checkout).await;
    let intent_id = payments.intent_id().await;
    let by_hand = payments.by_hand();
    by_hand.cancel(&intent_id, "by-hand-void").await.unwrap();
    payments.harness.processed(&expired(&checkout)).await;
    payments.reaches(checkout_id, "voided").await;
    let (status, report) = payments
        .harness
        .request("GET", "/payments/reconciliation", None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["differences"], serde_json::json!([]), "{report}");
}

/// The order is cancelled while its capture waits out an outage, and the provider then
/// refuses the capture (the hold was released meanwhile): nothing was taken, so the
/// payment ends voided, not failed, and no receipt goes out.
#[tokio::test]
async fn a_capture_refused_for_a_cancelled_order_ends_voided() {
    let payments = payments(
        &[
            ("PROVIDER_RETRIES", "0"),
            ("PROVIDER_BREAKER_OPEN_MS", "200"),
        ],
        3000,
    )
    .await;
    let checkout = requested(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.authorized(&checkout).await;
    let intent_id = payments.intent_id().await;
    let by_hand = payments.by_hand();
    by_hand.cancel(&intent_id, "by-hand-void").await.unwrap();
    payments.sandbox.set_down(true);
    let order_id = Uuid::new_v4();
    payments
        .harness
        .processed(&ordered(&checkout, order_id))
        .await;
    payments.reaches(checkout_id, "capturing").await;
    payments
        .harness
        .processed(&cancelled(&checkout, order_id))
        .await;
    payments.sandbox.set_down(false);
    payments.reaches(checkout_id, "voided").await;
    assert!(
        payments
            .harness
            .staged::<PaymentCaptured>()
            .await
            .is_empty()
    );
    assert_eq!(payments.ledger().totals.captured, 0);
}

/// Payment runs beside the reservation, so short stock can come after the hold or
/// before payment heard of the checkout: the hold is voided, or nothing is authorized.
#[tokio::test]
async fn short_stock_voids_the_hold_or_keeps_it_from_being_made() {
    let payments = payments(&[], 3000).await;
    let short = |checkout: &cartflow_events::OrderRequested| StockRejected {
        cart_id: checkout.cart_id,
        checkout_id: checkout.checkout_id,
        customer_id: checkout.customer_id,
        reason: cartflow_events::INSUFFICIENT_STOCK.into(),
        details: Vec::new(),
    };
    let held = requested(Some("pm_card_visa"));
    let held_id = held.checkout_id.unwrap();
    payments.harness.processed(&held).await;
    payments.reaches(held_id, "authorized").await;
    payments.harness.processed(&short(&held)).await;
    payments.reaches(held_id, "voided").await;

    let never = requested(Some("pm_card_visa"));
    let never_id = never.checkout_id.unwrap();
    payments.harness.processed(&short(&never)).await;
    payments.harness.processed(&never).await;
    assert_eq!(
        payments.status(never_id).await.as_deref(),
        Some("abandoned")
    );
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.voids),
        (1, 1),
        "one hold, for the first checkout, released: {ledger:?}"
    );
    assert_eq!(ledger.totals.capturable, 0, "nothing held");
}

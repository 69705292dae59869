//! A checkout's payment decided: approved and captured and refunded once each,
//! declined with the provider's code, or declined without asking the provider.

use super::{cancelled, ordered, payments, requested};
use cartflow_events::{PaymentAuthorized, PaymentCaptured, PaymentDeclined, PaymentRefunded};
use cartflow_testkit::message;
use uuid::Uuid;

#[tokio::test]
async fn an_approved_checkout_is_authorized_captured_and_refunded_once_each() {
    let payments = payments(&[], 3000).await;
    let checkout = requested(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.authorized(&checkout).await;
    let authorized = payments.harness.staged::<PaymentAuthorized>().await;
    assert_eq!(authorized.len(), 1);
    assert_eq!(authorized[0].amount_cents, 2500);
    let card = authorized[0]
        .card
        .clone()
        .expect("the card's brand and last four");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
    assert_eq!(payments.ledger().totals.capturable, 2500);

    // The cart re-sent its request: the authorization is announced again, not made again.
    payments.harness.processed(&checkout).await;
    assert_eq!(
        payments.harness.staged::<PaymentAuthorized>().await.len(),
        2
    );

    let order_id = Uuid::new_v4();
    payments
        .harness
        .processed(&ordered(&checkout, order_id))
        .await;
    payments.reaches(checkout_id, "captured").await;
    payments
        .harness
        .processed(&ordered(&checkout, order_id))
        .await;
    let captured = payments.harness.staged::<PaymentCaptured>().await;
    assert_eq!(captured.len(), 1, "one receipt");
    assert_eq!(
        (captured[0].order_id, captured[0].amount_cents),
        (order_id, 2500)
    );

    payments
        .harness
        .processed(&cancelled(&checkout, order_id))
        .await;
    payments.reaches(checkout_id, "refunded").await;
    payments
        .harness
        .processed(&cancelled(&checkout, order_id))
        .await;
    let refunded = payments.harness.staged::<PaymentRefunded>().await;
    assert_eq!(refunded.len(), 1, "one refund notice");

    let ledger = payments.ledger();
    assert_eq!(
        (
            ledger.counts.authorizations,
            ledger.counts.captures,
            ledger.counts.refunds
        ),
        (1, 1, 1),
        "{ledger:?}"
    );
    assert_eq!(
        (
            ledger.totals.captured,
            ledger.totals.refunded,
            ledger.totals.net
        ),
        (2500, 2500, 0)
    );
    let (status, report) = payments
        .harness
        .request("GET", "/payments/reconciliation", None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["differences"], serde_json::json!([]), "{report}");
    assert_eq!(report["records_net_cents"], 0);
}

#[tokio::test]
async fn declines_carry_the_providers_code_and_hold_nothing() {
    let payments = payments(&[], 3000).await;
    for (token, code) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
    ] {
        let checkout = requested(Some(token));
        payments.harness.processed(&checkout).await;
        payments
            .reaches(checkout.checkout_id.unwrap(), "declined")
            .await;
        let declined = payments.harness.staged::<PaymentDeclined>().await;
        let this = declined
            .iter()
            .find(|d| Some(d.checkout_id) == checkout.checkout_id)
            .expect("the decline is announced");
        assert_eq!(this.reason, "card_declined");
        assert_eq!(this.decline_code.as_deref(), Some(code));
        assert_eq!(this.items, checkout.items, "inventory releases these lines");
    }
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.declines, ledger.counts.authorizations),
        (2, 0)
    );
    assert_eq!(ledger.totals.capturable, 0);
    assert!(
        payments
            .harness
            .staged::<PaymentAuthorized>()
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_checkout_without_a_usable_payment_method_is_declined_without_asking_the_provider() {
    let payments = payments(&[], 3000).await;
    let missing = requested(None);
    let card_number = requested(Some("4242424242424242"));
    payments.harness.processed(&missing).await;
    payments.harness.processed(&card_number).await;
    let declined = payments.harness.staged::<PaymentDeclined>().await;
    let reasons: Vec<&str> = declined.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["payment_method_missing", "payment_method_invalid"]
    );
    assert!(
        payments.ledger().intents.is_empty(),
        "the provider was not asked"
    );
    // Nothing shaped like a card number is kept, in any column.
    let dump: String = sqlx::query_scalar("SELECT string_agg(p::text, ' ') FROM payments p")
        .fetch_one(payments.harness.pool())
        .await
        .unwrap();
    assert!(
        !cartflow_api::payment::holds_card_number_among_ids(&dump),
        "{dump}"
    );
}

/// A batch of orders is decided on payments read together, and their captures requested
/// with one statement: each checkout's hold is captured once, an order repeated in the
/// same batch asks for nothing more, and an order without a payment is let be.
#[tokio::test]
async fn a_batch_of_orders_captures_each_checkout_once() {
    let payments = payments(&[], 3000).await;
    let (a, b) = (
        requested(Some("pm_card_visa")),
        requested(Some("pm_card_visa")),
    );
    for checkout in [&a, &b] {
        payments.authorized(checkout).await;
    }
    let never_paid = requested(Some("pm_card_visa"));
    let (order_a, order_b) = (Uuid::new_v4(), Uuid::new_v4());
    let batch = [
        ordered(&a, order_a),
        ordered(&b, order_b),
        ordered(&never_paid, Uuid::new_v4()),
        ordered(&a, order_a),
    ];
    payments.processed_together(&batch).await;
    for checkout in [&a, &b] {
        payments
            .reaches(checkout.checkout_id.unwrap(), "captured")
            .await;
    }
    let mut captured: Vec<Uuid> = payments
        .harness
        .staged::<PaymentCaptured>()
        .await
        .iter()
        .map(|c| c.order_id)
        .collect();
    captured.sort();
    let mut expected = vec![order_a, order_b];
    expected.sort();
    assert_eq!(captured, expected, "one receipt each");
    let ledger = payments.ledger();
    assert_eq!((ledger.counts.captures, ledger.totals.captured), (2, 5000));
    // A capture asked for twice would reach the provider twice (the second answered
    // from its idempotency key): the repeat must not ask again.
    assert_eq!(ledger.counts.repeated, 0, "each capture asked for once");
    assert_eq!(payments.status(never_paid.checkout_id.unwrap()).await, None);
}

/// An order cancelled in the batch that announced it is decided on the payment as the
/// batch's captures left it: captured, then refunded once; an order beside it is
/// captured.
#[tokio::test]
async fn an_order_cancelled_in_the_batch_that_announced_it_is_refunded_after_its_capture() {
    let payments = payments(&[], 3000).await;
    let (kept, cancelled_at_once) = (
        requested(Some("pm_card_visa")),
        requested(Some("pm_card_visa")),
    );
    for checkout in [&kept, &cancelled_at_once] {
        payments.authorized(checkout).await;
    }
    let (order_kept, order_cancelled) = (Uuid::new_v4(), Uuid::new_v4());
    payments
        .processed_mixed(vec![
            message(&ordered(&cancelled_at_once, order_cancelled)),
            message(&ordered(&kept, order_kept)),
            message(&cancelled(&cancelled_at_once, order_cancelled)),
        ])
        .await;
    payments
        .reaches(kept.checkout_id.unwrap(), "captured")
        .await;
    payments
        .reaches(cancelled_at_once.checkout_id.unwrap(), "refunded")
        .await;
    let ledger = payments.ledger();
    assert_eq!(
        (
            ledger.counts.captures,
            ledger.counts.refunds,
            ledger.counts.voids
        ),
        (2, 1, 0),
        "both captured, the cancelled one refunded once: it was not voided as if still held"
    );
    assert_eq!(ledger.counts.repeated, 0, "each step asked for once");
    let refunded = payments.harness.staged::<PaymentRefunded>().await;
    assert_eq!(refunded.len(), 1, "one refund notice");
    assert_eq!(refunded[0].order_id, order_cancelled);
}

/// A batch of requests is recorded together (one insert), each as it would be alone: each checkout
/// is authorized (or declined) once, one without a usable method is declined without
/// asking the provider, and a request repeated in the batch, or for a checkout decided
/// before it, records nothing more (a decided one is announced again).
#[tokio::test]
async fn a_batch_of_requests_authorizes_each_checkout_once() {
    let payments = payments(&[], 3000).await;
    let decided_before = requested(Some("pm_card_visa"));
    payments.authorized(&decided_before).await;
    let (visa, declined, missing) = (
        requested(Some("pm_card_visa")),
        requested(Some("pm_card_chargeDeclined")),
        requested(None),
    );
    let batch = [
        visa.clone(),
        declined.clone(),
        missing.clone(),
        visa.clone(),
        decided_before.clone(),
    ];
    payments.processed_together(&batch).await;
    payments
        .reaches(visa.checkout_id.unwrap(), "authorized")
        .await;
    payments
        .reaches(declined.checkout_id.unwrap(), "declined")
        .await;
    assert_eq!(
        payments
            .status(missing.checkout_id.unwrap())
            .await
            .as_deref(),
        Some("declined")
    );
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.declines),
        (2, 1),
        "one authorization per checkout, the one decided before included"
    );
    assert_eq!(ledger.totals.capturable, 5000);
    let announced: Vec<_> = payments
        .harness
        .staged::<PaymentAuthorized>()
        .await
        .iter()
        .map(|a| a.checkout_id)
        .collect();
    let of = |c: &cartflow_events::OrderRequested| c.checkout_id.unwrap();
    assert_eq!(
        announced
            .iter()
            .filter(|c| **c == of(&decided_before))
            .count(),
        2,
        "the checkout decided before is announced again"
    );
    assert_eq!(announced.iter().filter(|c| **c == of(&visa)).count(), 1);
    let reasons: Vec<String> = payments
        .harness
        .staged::<PaymentDeclined>()
        .await
        .iter()
        .map(|d| d.reason.clone())
        .collect();
    let mut reasons = reasons;
    reasons.sort();
    assert_eq!(reasons, ["card_declined", "payment_method_missing"]);
}

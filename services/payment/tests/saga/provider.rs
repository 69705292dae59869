//! A provider that is slow, down or never answers, and two instances of the service
//! sharing its calls: each step asked once.

use super::{payments, requested};
use cartflow_events::PaymentAuthorized;
use cartflow_kit::{AppContext, Env, ServiceApp};
use cartflow_messaging::Outbox;
use cartflow_testkit::eventually;
use payment_service::PaymentApp;
use tokio_util::sync::CancellationToken;

/// The provider answers past the client's time-out: the call is retried with the same
/// idempotency key, and the provider authorizes once.
#[tokio::test]
async fn a_provider_slower_than_the_timeout_authorizes_once() {
    let payments = payments(
        &[("PROVIDER_TIMEOUT_MS", "300"), ("PROVIDER_RETRIES", "0")],
        800,
    )
    .await;
    let checkout = requested(Some("pm_card_slow"));
    payments.authorized(&checkout).await;
    let ledger = payments.ledger();
    assert_eq!(ledger.intents.len(), 1, "{ledger:?}");
    assert_eq!(ledger.counts.authorizations, 1);
    assert_eq!(
        payments.harness.staged::<PaymentAuthorized>().await.len(),
        1
    );
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM payments")
        .fetch_one(payments.harness.pool())
        .await
        .unwrap();
    assert!(
        attempts >= 2,
        "the first call timed out and was made again ({attempts})"
    );
}

/// Two instances of the payment service, one database: a step one worker has claimed
/// is not asked again by the other while its call is out (the provider sees each
/// request once, none repeated under its key).
#[tokio::test]
async fn a_claimed_step_is_not_asked_again_by_another_instance() {
    let payments = payments(&[], 600).await;
    // A second instance: its own worker (polling every 50 ms) on the same database.
    let env = Env::from_pairs([
        ("PAYMENT_PROVIDER_URL", payments.url.as_str()),
        ("PAYMENT_PROVIDER_KEY", "sk_test_payments"),
        ("PAYMENT_WORKER_POLL_MS", "50"),
    ]);
    let second = PaymentApp::from_env(&env).expect("payment settings");
    let stop = CancellationToken::new();
    let ctx = AppContext {
        service: PaymentApp::SERVICE,
        pool: payments.harness.pool().clone(),
        outbox: Outbox::new(PaymentApp::SERVICE, payments.harness.pool().clone()),
        shutdown: stop.clone(),
    };
    for worker in second.workers(ctx) {
        tokio::spawn(worker);
    }
    let _stop = stop.drop_guard();

    let checkout = requested(Some("pm_card_slow"));
    payments.authorized_then_captured(&checkout).await;
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.captures),
        (1, 1),
        "{ledger:?}"
    );
    assert_eq!(
        ledger.counts.repeated, 0,
        "no call was made twice while the first was out: {ledger:?}"
    );
}

/// A provider that is down: the authorization waits and retries, and goes through
/// once the provider is back.
#[tokio::test]
async fn an_authorization_waits_out_a_provider_outage() {
    let payments = payments(
        &[
            ("PROVIDER_RETRIES", "0"),
            ("PROVIDER_BREAKER_OPEN_MS", "200"),
        ],
        3000,
    )
    .await;
    payments.sandbox.set_down(true);
    let checkout = requested(Some("pm_card_mastercard"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    eventually("a failed try recorded", || async {
        let (attempts, error): (i32, Option<String>) =
            sqlx::query_as("SELECT attempts, last_error FROM payments WHERE checkout_id = $1")
                .bind(checkout_id)
                .fetch_one(payments.harness.pool())
                .await
                .unwrap();
        (attempts >= 1 && error.is_some()).then_some(())
    })
    .await;
    assert_eq!(
        payments.status(checkout_id).await.as_deref(),
        Some("authorizing")
    );
    payments.sandbox.set_down(false);
    payments.reaches(checkout_id, "authorized").await;
    assert_eq!(payments.ledger().counts.authorizations, 1);
}

/// An authorization the provider has not answered for its key's lifetime is not asked
/// again (a call with a forgotten key could hold the money twice): it fails for an
/// operator, and nothing is asked of the provider once it is back.
#[tokio::test]
async fn an_authorization_unanswered_for_its_keys_lifetime_is_not_asked_again() {
    let payments = payments(
        &[
            ("PROVIDER_RETRIES", "0"),
            ("PROVIDER_BREAKER_OPEN_MS", "200"),
        ],
        3000,
    )
    .await;
    payments.sandbox.set_down(true);
    let checkout = requested(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    eventually("a failed try recorded", || async {
        let attempts: i32 =
            sqlx::query_scalar("SELECT attempts FROM payments WHERE checkout_id = $1")
                .bind(checkout_id)
                .fetch_one(payments.harness.pool())
                .await
                .unwrap();
        (attempts >= 1).then_some(())
    })
    .await;
    // First asked 23 hours ago.
    sqlx::query("UPDATE payments SET created_at = now() - interval '23 hours 1 minute'")
        .execute(payments.harness.pool())
        .await
        .unwrap();
    payments.reaches(checkout_id, "failed").await;
    let error: String =
        sqlx::query_scalar("SELECT last_error FROM payments WHERE checkout_id = $1")
            .bind(checkout_id)
            .fetch_one(payments.harness.pool())
            .await
            .unwrap();
    assert!(error.contains("idempotency key's lifetime"), "{error}");
    payments.sandbox.set_down(false);
    assert_eq!(payments.ledger().counts.authorizations, 0);
    assert_eq!(
        payments.status(checkout_id).await.as_deref(),
        Some("failed")
    );
}

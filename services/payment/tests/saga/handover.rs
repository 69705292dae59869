//! Each step a handler records is claimed in its own transaction and handed to the
//! worker in memory once that commits: called at once, with no claim statement of the
//! worker's, and nobody else's until the claim runs out.

use super::{payments, requested};
use cartflow_events::{OrderRequested, Service};
use cartflow_kit::Env;
use cartflow_kit::runtime::{AppContext, ServiceApp};
use cartflow_messaging::Outbox;
use cartflow_testkit::HandlerHarness;
use payment_service::{PaymentApp, store};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The worker's poll is a minute here: only the hand-over can make the calls this soon.
#[tokio::test]
async fn a_recorded_step_is_handed_to_the_worker_and_called_at_once() {
    let payments = payments(&[("PAYMENT_WORKER_POLL_MS", "60000")], 3000).await;
    let checkout = requested(Some("pm_card_visa"));
    let started = Instant::now();
    payments.authorized_then_captured(&checkout).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "authorized and captured {took:?} after the request, with a poll of a minute"
    );
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.captures),
        (1, 1)
    );
}

/// The payment app with a provider nobody answers at, its handler, and a checkout's
/// request: no worker runs until a test starts one.
async fn without_a_worker() -> (PaymentApp, HandlerHarness, OrderRequested) {
    let app = PaymentApp::from_env(&Env::from_pairs([
        ("PAYMENT_PROVIDER_URL", "http://127.0.0.1:9"),
        ("PAYMENT_PROVIDER_KEY", "sk_test_handover"),
    ]))
    .unwrap();
    let harness = HandlerHarness::for_app(&app).await;
    (app, harness, requested(Some("pm_card_visa")))
}

/// No worker runs here: the step the handler recorded is claimed, so another
/// instance's worker looking for due steps does not take it; a step made due at once
/// (as the worker's own follow-ups are) is taken.
#[tokio::test]
async fn a_handed_step_is_nobody_elses_until_its_claim_runs_out() {
    let (_app, harness, checkout) = without_a_worker().await;
    harness.processed(&checkout).await;
    let lease = Duration::from_secs(30);
    let pool = harness.pool();
    let due = store::claim_due(pool, &[], 10, lease).await.unwrap();
    assert!(due.is_empty(), "claimed by the handler: {due:?}");

    let mut conn = pool.acquire().await.unwrap();
    let record = store::lock(&mut conn, checkout.checkout_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    store::request(
        &mut conn,
        store::Step {
            id: record.id,
            to: record.status,
            order_id: None,
            caused_by: "test",
            traceparent: None,
            claim: Duration::ZERO,
        },
    )
    .await
    .unwrap();
    let due = store::claim_due(pool, &[], 10, lease).await.unwrap();
    assert_eq!(due.len(), 1, "due at once");
    assert_eq!(due[0].id, record.id);
}

/// A worker that stops with steps handed over but not started gives up their claims:
/// another instance's worker takes them at once, not when the claims run out.
#[tokio::test]
async fn a_stopping_worker_leaves_its_unstarted_steps_due_at_once() {
    let (app, harness, checkout) = without_a_worker().await;
    // Recorded, claimed and handed to the app's worker, which is not running yet.
    harness.processed(&checkout).await;
    let pool = harness.pool();
    let lease = Duration::from_secs(30);
    assert!(
        store::claim_due(pool, &[], 10, lease)
            .await
            .unwrap()
            .is_empty()
    );

    let stopped = CancellationToken::new();
    stopped.cancel();
    let ctx = AppContext {
        service: Service::Payment,
        pool: pool.clone(),
        outbox: Outbox::new(Service::Payment, pool.clone()),
        shutdown: stopped,
    };
    for worker in app.workers(ctx) {
        tokio::time::timeout(Duration::from_secs(10), worker)
            .await
            .expect("a stopped worker returns");
    }
    let due = store::claim_due(pool, &[], 10, lease).await.unwrap();
    assert_eq!(due.len(), 1, "released by the stopping worker");
    assert_eq!(Some(due[0].checkout_id), checkout.checkout_id);
}

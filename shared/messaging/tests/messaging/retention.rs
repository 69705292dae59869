//! Retention against real PostgreSQL: aged rows go, young and unpublished ones stay,
//! a duplicate inside the window is still skipped, two replicas share the work without
//! waiting on each other, and a shutdown stops it between batches. (Retention through
//! a burst of checkouts, and the dedup window checked at start-up, are end-to-end
//! tests: `e2e/tests/platform/retention.rs`.)

use cartflow_events::OrderRequested;
use cartflow_messaging::consumer::{Delivery, Outcome};
use cartflow_messaging::retention::{RetentionSettings, run_once, run_once_until};
use cartflow_testkit::envelope_for;
use cartflow_testkit::scratch::{CountingHandler, fill, request_for, scratch_consumer};
use cartflow_testkit::{TestInfra, count, eventually_within};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

async fn failure(pool: &PgPool, event_id: Uuid, age: &str) {
    sqlx::query(
        "INSERT INTO message_failures (failure_key, service, event_id, event_type, correlation_id,
                                       message_id, kind, last_error, first_failed_at, last_failed_at)
         VALUES ($1, 'inventory', $2, 'order-requested', 'c', 'm', 'failing', 'boom',
                 now() - $3::interval, now() - $3::interval)",
    )
    .bind(event_id.to_string())
    .bind(event_id)
    .bind(age)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aged_rows_are_removed_young_and_unpublished_ones_never() {
    let infra = TestInfra::new().await;
    let (pool, consumer) = scratch_consumer(&infra, Arc::new(CountingHandler)).await;
    let settings = RetentionSettings {
        batch_size: 7, // several batches per table
        pause: Duration::ZERO,
        ..RetentionSettings::default()
    };
    fill(&pool, 20, "16 days", true).await; // past the inbox (15 d) and outbox (7 d) windows
    fill(&pool, 10, "8 days", false).await; // inbox young; outbox old but never published
    fill(&pool, 5, "1 day", true).await; // young everywhere

    // A young event, consumed: its duplicate must still be recognised afterwards.
    let young = request_for(Uuid::new_v4());
    let envelope = envelope_for::<OrderRequested>(young.cart_id);
    let attributes = envelope.to_attributes();
    let data = serde_json::to_vec(&young).unwrap();
    let delivery = || Delivery {
        message_id: "m-1",
        attributes: &attributes,
        data: &data,
        attempt: Some(1),
    };
    assert_eq!(consumer.deliver(delivery()).await, Outcome::Processed);

    // Failures: resolved and old (goes), resolved and young, unresolved and old (stay).
    let resolved_old = Uuid::new_v4();
    let resolved_young = Uuid::new_v4();
    failure(&pool, resolved_old, "31 days").await;
    failure(&pool, resolved_young, "2 days").await;
    failure(&pool, Uuid::new_v4(), "40 days").await;
    for id in [resolved_old, resolved_young] {
        sqlx::query(
            "INSERT INTO processed_messages (event_id, service, event_type, correlation_id)
             VALUES ($1, 'inventory', 'order-requested', 'c')",
        )
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    }

    let report = run_once(&pool, &settings).await.unwrap();
    assert_eq!(report.inbox_removed, 20);
    assert_eq!(report.outbox_removed, 20);
    assert_eq!(report.failures_resolved, 2);
    assert_eq!(report.failures_removed, 1);

    assert_eq!(
        count(&pool, "SELECT count(*) FROM processed_messages").await,
        10 + 5 + 1 + 2,
        "the 8-day and 1-day fills, the consumed event, the two resolutions"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        .await,
        10,
        "unpublished rows are never removed, however old"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
        )
        .await,
        5
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM message_failures").await,
        2,
        "the young resolved failure and the unresolved one stay"
    );
    // Inside the window the inbox still does its job.
    assert_eq!(consumer.deliver(delivery()).await, Outcome::Duplicate);
    // Nothing aged is left: a second run removes nothing.
    let again = run_once(&pool, &settings).await.unwrap();
    assert_eq!(
        (
            again.inbox_removed,
            again.outbox_removed,
            again.failures_removed
        ),
        (0, 0, 0)
    );
}

/// Two replicas start retention on the same database at the same moment. SKIP LOCKED
/// makes them share the aged rows: every row is removed exactly once and both finish.
/// (Were they to wait on each other's locked rows, the second would only start after
/// the first's batch committed; the sum would still match, so the test also checks
/// that each of them did part of the work.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_remove_each_row_once_and_share_the_work() {
    let infra = TestInfra::new().await;
    let (pool, _) = scratch_consumer(&infra, Arc::new(CountingHandler)).await;
    fill(&pool, 40_000, "20 days", true).await;
    fill(&pool, 100, "1 hour", true).await;
    let settings = RetentionSettings {
        batch_size: 500,
        pause: Duration::from_millis(2),
        sleep_coef: 0.0,
        ..RetentionSettings::default()
    };
    let (a, b) = tokio::join!(run_once(&pool, &settings), run_once(&pool, &settings));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.inbox_removed + b.inbox_removed, 40_000);
    assert_eq!(a.outbox_removed + b.outbox_removed, 40_000);
    assert!(
        a.inbox_removed > 0 && b.inbox_removed > 0,
        "both replicas removed rows: {a:?} {b:?}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM processed_messages").await,
        100
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM outbox").await, 100);
}

/// A service shutting down over a large backlog stops retention at the next batch
/// instead of draining it all first: cancelled once the first rows are gone, the run
/// returns within a second with most of the backlog left for a later run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_retention_between_batches() {
    let infra = TestInfra::new().await;
    let (pool, _) = scratch_consumer(&infra, Arc::new(CountingHandler)).await;
    fill(&pool, 20_000, "20 days", true).await;
    let settings = RetentionSettings {
        batch_size: 100,
        pause: Duration::from_millis(20),
        ..RetentionSettings::default()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn({
        let (pool, settings, stop) = (pool.clone(), settings.clone(), stop.clone());
        async move { run_once_until(&pool, &settings, &stop).await }
    });
    eventually_within(
        Duration::from_secs(30),
        "retention to start removing",
        || async {
            (count(&pool, "SELECT count(*) FROM processed_messages").await < 20_000).then_some(())
        },
    )
    .await;
    stop.cancel();
    // It stops between two batches: well within 5 s even on a busy machine.
    let report = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run stops within 5 s of the cancel")
        .unwrap()
        .unwrap();
    assert!(
        report.inbox_removed > 0 && report.inbox_removed < 20_000,
        "stopped part-way: {report:?}"
    );
    let left = count(&pool, "SELECT count(*) FROM processed_messages").await;
    assert_eq!(left, 20_000 - report.inbox_removed as i64);
}

//! Retention against real PostgreSQL (and, for the burst, the whole platform on the
//! emulator): aged rows go, young and unpublished ones stay, a duplicate inside the
//! window is still skipped, two replicas share the work without waiting on each other,
//! and retention running through a burst of checkouts changes none of its outcomes.

use crate::batches::scratch_consumer;
use crate::burst::{assert_books, shoppers};
use crate::helpers::{TestInfra, count, eventually_within, spawn_app_with};
use crate::messaging::{CountingHandler, request};
use cartflow_events::{OrderRequested, Service};
use cartflow_messaging::consumer::{Delivery, Outcome};
use cartflow_messaging::retention::{RetentionSettings, run_once, run_once_until};
use cartflow_testkit::envelope_for;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Inserts `n` inbox rows processed `age` ago, `n` published outbox rows created and
/// published `age` ago, and returns nothing: the caller counts.
async fn fill(pool: &PgPool, n: i64, age: &str, published: bool) {
    sqlx::query(
        "INSERT INTO processed_messages (event_id, service, event_type, correlation_id, processed_at)
         SELECT gen_random_uuid(), 'inventory', 'order-requested', 'fill', now() - $2::interval
         FROM generate_series(1, $1)",
    )
    .bind(n)
    .bind(age)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, ordering_key, attributes, payload, created_at, published_at)
         SELECT gen_random_uuid(), 'stock-available', 'k', '{}', '{}', now() - $2::interval,
                CASE WHEN $3 THEN now() - $2::interval END
         FROM generate_series(1, $1)",
    )
    .bind(n)
    .bind(age)
    .bind(published)
    .execute(pool)
    .await
    .unwrap();
}

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
    let young = request(Uuid::new_v4());
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
    let report = tokio::time::timeout(Duration::from_secs(1), run)
        .await
        .expect("the run stops within a second of the cancel")
        .unwrap()
        .unwrap();
    assert!(
        report.inbox_removed > 0 && report.inbox_removed < 20_000,
        "stopped part-way: {report:?}"
    );
    let left = count(&pool, "SELECT count(*) FROM processed_messages").await;
    assert_eq!(left, 20_000 - report.inbox_removed as i64);
}

/// Every service runs retention every second while 40 checkouts (for 30 units) go
/// through and 100,000 old rows per table are being removed from inventory's, order's
/// and cart's inbox and outbox: every checkout ends, once, and the books balance. A
/// sampler watches PostgreSQL meanwhile (every 5 ms): no backend ever waits on a lock
/// that one of retention's deletes holds (they take only aged rows, which the hot path
/// never touches, with SKIP LOCKED).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_during_a_burst_changes_no_outcome_and_blocks_nobody() {
    let app = spawn_app_with(&[
        ("RETENTION_INTERVAL_SECS", "1"),
        ("RETENTION_BATCH_SIZE", "500"),
        ("RETENTION_PAUSE_MS", "5"),
    ])
    .await;
    const STOCK: i32 = 30;
    app.create_product("RET-1", 1000, STOCK).await;
    let customers = shoppers(&app, 40).await;
    for service in [Service::Inventory, Service::Order, Service::Cart] {
        fill(app.pool(service), 100_000, "30 days", true).await;
    }

    let databases: Vec<String> = [Service::Inventory, Service::Order, Service::Cart]
        .into_iter()
        .map(|s| app.infra.settings.database_name(s))
        .collect();
    let watch = app.pool(Service::Inventory).clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = tokio::spawn({
        let stop = stop.clone();
        async move {
            let (mut samples, mut deleting, mut blocked) = (0u64, 0i64, 0i64);
            while !stop.is_cancelled() {
                let (d, b): (i64, i64) = sqlx::query_as(
                    "SELECT count(*) FILTER (WHERE a.state = 'active'
                                             AND a.query LIKE 'DELETE FROM % WHERE ctid = ANY%'),
                            count(*) FILTER (WHERE a.wait_event_type = 'Lock' AND EXISTS (
                                SELECT 1 FROM pg_stat_activity r
                                WHERE r.pid = ANY(pg_blocking_pids(a.pid))
                                  AND r.query LIKE 'DELETE FROM % WHERE ctid = ANY%'))
                     FROM pg_stat_activity a WHERE a.datname = ANY($1)",
                )
                .bind(&databases)
                .fetch_one(&watch)
                .await
                .unwrap();
                samples += 1;
                deleting += d;
                blocked += b;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (samples, deleting, blocked)
        }
    });
    // The burst starts once retention has: the first aged rows are gone.
    eventually_within(Duration::from_secs(30), "retention to start", || async {
        let aged = count(
            app.pool(Service::Inventory),
            "SELECT count(*) FROM outbox WHERE created_at < now() - interval '20 days'",
        )
        .await;
        (aged < 100_000).then_some(())
    })
    .await;
    let mut aged_at_start = 0;
    for service in [Service::Inventory, Service::Order, Service::Cart] {
        aged_at_start += count(
            app.pool(service),
            "SELECT count(*) FROM outbox WHERE created_at < now() - interval '20 days'",
        )
        .await;
    }
    // Zero errors: unlike `burst::shop`, no retries; every call must succeed at once.
    let cart = app.cart_client();
    futures::future::join_all(customers.iter().map(|&c| {
        let cart = &cart;
        async move {
            cart.add_item(c, "RET-1", 1).await.expect("adding a line");
            cart.convert(c).await.expect("converting");
        }
    }))
    .await;
    let carts = app.settled_carts(&customers, Duration::from_secs(60)).await;
    stop.cancel();
    let (samples, deleting, blocked) = sampler.await.unwrap();
    eprintln!(
        "{samples} samples: a retention delete running in {deleting}, a backend blocked by one in {blocked}"
    );
    assert!(
        aged_at_start > 0,
        "the burst began while retention still had rows to remove"
    );
    assert_eq!(blocked, 0, "no backend waited on retention's locks");
    assert_books(&app, "RET-1", STOCK, &carts).await;
    for service in [
        Service::Inventory,
        Service::Order,
        Service::Cart,
        Service::Notification,
        Service::EmailPush,
    ] {
        let failures = count(app.pool(service), "SELECT count(*) FROM message_failures").await;
        assert_eq!(failures, 0, "{service}: no message failed during the burst");
    }
    for service in [Service::Inventory, Service::Order, Service::Cart] {
        let aged = eventually_within(Duration::from_secs(60), "the aged rows to go", || async {
            let aged = count(
                app.pool(service),
                "SELECT count(*) FROM processed_messages WHERE processed_at < now() - interval '20 days'",
            )
            .await;
            (aged == 0).then_some(aged)
        })
        .await;
        assert_eq!(aged, 0, "{service}: retention removed the old inbox rows");
    }
    app.stop().await;
}

/// Pub/Sub keeps what is published to `order-requested` for 10 days (topic retention,
/// which `seek` replays from; set on the emulator as an operator might): with the 7-day
/// replay horizon a duplicate can come back after 17 days, so a 14.5-day dedup window,
/// fine by the configuration's own check against the 7-day default, is refused when
/// inventory starts and reads its topics and subscriptions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_refuses_a_dedup_window_that_pubsub_retention_outlasts() {
    use google_cloud_pubsub::model::Topic;
    let mut infra = TestInfra::new().await;
    let pubsub = infra.pubsub().clone();
    cartflow_messaging::provision::provision(&pubsub)
        .await
        .unwrap();
    pubsub
        .topic_admin()
        .await
        .unwrap()
        .update_topic()
        .set_topic(
            Topic::new()
                .set_name(pubsub.topic_path("order-requested"))
                .set_message_retention_duration(
                    google_cloud_wkt::Duration::new(10 * 86_400, 0).unwrap(),
                ),
        )
        .set_update_mask(
            google_cloud_wkt::FieldMask::default().set_paths(["message_retention_duration"]),
        )
        .send()
        .await
        .unwrap();
    infra.settings.env.set("INBOX_RETENTION_DAYS", "14.5");
    let refused = cartflow_platform::Platform::start(&infra.settings).await;
    let err = format!("{:#}", refused.err().expect("inventory must not start"));
    assert!(err.contains("INBOX_RETENTION_DAYS"), "{err}");
    assert!(err.contains("240 h"), "names the retention it read: {err}");
}

//! Retention with the whole platform on the emulator: through a burst of checkouts it
//! changes none of their outcomes, and a service refuses a dedup window that Pub/Sub's
//! retention outlasts. (Retention's own rules: `shared/messaging/tests/retention.rs`.)

use crate::burst::{assert_books, shoppers};
use crate::helpers::{TestInfra, count, eventually_within, spawn_app_with};
use cartflow_events::Service;
use cartflow_testkit::scratch::fill;
use std::time::Duration;

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

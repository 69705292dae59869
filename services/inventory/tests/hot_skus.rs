//! Inventory's batch locks under contention, on a database of its own: concurrent
//! batches over the same hot stock rows queue instead of deadlocking.

use cartflow_events::{LineItem, OrderRequested, Service};
use cartflow_kit::ServiceApp;
use cartflow_messaging::{Consumer, ConsumerSettings, Incoming, Outbox};
use cartflow_testkit::{TestInfra, count, envelope_for};
use inventory_service::InventoryApp;
use inventory_service::handlers::InventoryHandler;
use std::sync::Arc;
use uuid::Uuid;

/// Eight workers apply batches of reservations over four hot SKUs at once, the way
/// eight busy subscriptions' batches would meet in inventory. Carts take two of the four
/// SKUs each, so batches overlap in every order. Without the handler's batch locks
/// (taken up front in SKU order) they deadlock, and PostgreSQL fails one side after
/// `deadlock_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inventory_batches_over_hot_skus_never_deadlock() {
    let infra = TestInfra::new().await;
    let pool = infra
        .database(
            "inventory",
            &cartflow_kit::runtime::migrator_for(InventoryApp::migrator()),
        )
        .await;
    let deadlocks_before = deadlocks(&pool).await;
    let skus = ["HOT-1", "HOT-2", "HOT-3", "HOT-4"];
    for sku in skus {
        sqlx::query("INSERT INTO stock_items (sku, available) VALUES ($1, 100000)")
            .bind(sku)
            .execute(&pool)
            .await
            .unwrap();
    }
    let consumer = Consumer::new(
        Outbox::new(Service::Inventory, pool.clone()),
        Arc::new(InventoryHandler),
        infra.pubsub(),
        "inventory.order-requested",
        ConsumerSettings::default(),
    );
    const WORKERS: usize = 8;
    const BATCHES: usize = 6;
    const PER_BATCH: usize = 10;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let consumer = consumer.clone();
        workers.spawn(async move {
            let mut outcomes = Vec::new();
            for batch in 0..BATCHES {
                let incoming: Vec<Incoming> = (0..PER_BATCH)
                    .map(|i| {
                        // Two distinct SKUs, chosen so batches overlap in varied orders.
                        let a = (worker + batch + i) % 4;
                        let b = (a + 1 + (worker + i) % 3) % 4;
                        let request = OrderRequested {
                            checkout_id: None,
                            expires_at: None,
                            cart_id: Uuid::new_v4(),
                            customer_id: Uuid::new_v4(),
                            items: [a, b]
                                .into_iter()
                                .map(|s| LineItem {
                                    product_sku: cartflow_events::Sku::parse(skus[s]).unwrap(),
                                    quantity: 1,
                                    unit_price_cents: 100,
                                })
                                .collect(),
                            payment_method: None,
                            shipping_address: None,
                        };
                        Incoming::new(
                            envelope_for::<OrderRequested>(request.cart_id),
                            serde_json::to_vec(&request).unwrap(),
                        )
                    })
                    .collect();
                let refs: Vec<&Incoming> = incoming.iter().collect();
                match consumer.apply_batch(&refs).await {
                    Ok(applied) => outcomes.extend(applied.into_iter().map(|r| match r {
                        Ok(outcome) => format!("{outcome:?}"),
                        Err(err) => format!("error: {err}"),
                    })),
                    Err(err) => outcomes.push(format!("batch error: {err}")),
                }
            }
            outcomes
        });
    }
    let mut all = Vec::new();
    while let Some(outcomes) = workers.join_next().await {
        all.extend(outcomes.unwrap());
    }
    let failed: Vec<_> = all.iter().filter(|o| *o != "Processed").collect();
    assert!(failed.is_empty(), "every reservation applied: {failed:?}");
    assert_eq!(all.len(), WORKERS * BATCHES * PER_BATCH);
    let reserved: i64 = sqlx::query_scalar("SELECT sum(reserved)::bigint FROM stock_items")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reserved, (WORKERS * BATCHES * PER_BATCH * 2) as i64);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM reservations").await,
        (WORKERS * BATCHES * PER_BATCH) as i64
    );
    // A deadlock's victim would have been applied again message by message (and
    // answered `Processed` all the same): neither may have happened.
    assert_eq!(consumer.fallbacks(), 0, "every batch applied in one go");
    // Sessions publish their statistics when they end: close them, then read.
    pool.close().await;
    let url = cartflow_kit::config::database_url_for(
        &infra.server_url,
        &format!("{}inventory", infra.database_prefix),
    )
    .unwrap();
    let fresh = sqlx::PgPool::connect(&url).await.unwrap();
    assert_eq!(
        deadlocks(&fresh).await,
        deadlocks_before,
        "PostgreSQL saw no deadlock"
    );
}

async fn deadlocks(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(pool)
        .await
        .unwrap()
}

//! The shared messaging path on its own, against the real emulator and PostgreSQL:
//! outbox crash safety, the inbox's duplicate detection, and poison messages.
//!
//! This module holds a scratch consumer the tests run; the tests are in `relay` (an
//! event committed while the relay is down), `inbox` (once per event id) and `poison`
//! (dead-lettered, listed, and replayed once after the fix).

mod inbox;
mod poison;
mod relay;

use cartflow_messaging::AnyHandler;
use cartflow_testkit::TestInfra;
use cartflow_testkit::scratch::{CountingHandler, scratch_consumer};
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

type RunningConsumer = (PgPool, CancellationToken, tokio::task::JoinHandle<()>);

/// A consumer of `inventory.order-requested` running `CountingHandler` on a scratch
/// database, until the returned token is cancelled.
async fn counting_consumer(infra: &TestInfra) -> RunningConsumer {
    consumer_with(infra, Arc::new(CountingHandler)).await
}

async fn consumer_with(infra: &TestInfra, handler: Arc<dyn AnyHandler>) -> RunningConsumer {
    let (pool, consumer) = scratch_consumer(infra, handler).await;
    sqlx::query("CREATE TABLE broken (since TIMESTAMPTZ NOT NULL DEFAULT now())")
        .execute(&pool)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let subscriber = infra.pubsub().subscriber().await.unwrap();
    let running = tokio::spawn(consumer.run(subscriber, stop.clone()));
    (pool, stop, running)
}

async fn handled(pool: &PgPool, cart_id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM handled WHERE cart_id = $1")
        .bind(cart_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

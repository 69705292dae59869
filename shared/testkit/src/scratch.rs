//! Scratch fixtures for the plumbing's own tests (the consumer, the relay, push
//! delivery): a database with the plumbing tables and a `handled` log, a consumer of
//! `inventory.order-requested` on it, and handlers that record every run.

use crate::TestInfra;
use async_trait::async_trait;
use cartflow_events::{LineItem, OrderRequested, Service, StockAvailable};
use cartflow_messaging::{
    AnyHandler, Batch, Consumer, ConsumerSettings, EventHandler, HandlerError, Incoming, Item,
    Outbox, Tx, migrator_with,
};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// Customer ids that make [`RecordingHandler`] fail after it has written and staged.
pub const POISON_CUSTOMER: Uuid = Uuid::from_u128(0xbad);
pub const FLAKY_CUSTOMER: Uuid = Uuid::from_u128(0xf1a);

/// A handler with no domain guard of its own: it records every run, so only the
/// inbox stands between a duplicate delivery and a second effect.
pub struct CountingHandler;

#[async_trait]
impl EventHandler for CountingHandler {
    type Message = OrderRequested;

    fn decode(&self, event: &Incoming) -> Result<OrderRequested, HandlerError> {
        event.decode()
    }

    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderRequested>,
    ) -> Result<(), HandlerError> {
        for item in batch.iter() {
            record_run(tx, &item).await?;
        }
        Ok(())
    }
}

/// A row in `handled` for this run of the message's handler.
pub async fn record_run(tx: &mut Tx, item: &Item<'_, OrderRequested>) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO handled (event_id, cart_id) VALUES ($1, $2)")
        .bind(item.event.envelope.event_id)
        .bind(item.message.cart_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Records every run in `handled` and stages a `stock-available`, then fails for the
/// two marked customers: what it wrote before failing must not survive.
pub struct RecordingHandler;

#[async_trait]
impl EventHandler for RecordingHandler {
    type Message = OrderRequested;

    fn decode(&self, event: &Incoming) -> Result<OrderRequested, HandlerError> {
        event.decode()
    }

    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderRequested>,
    ) -> Result<(), HandlerError> {
        for item in batch.iter() {
            record_run(tx, &item).await?;
            item.publish(tx, &reply_to(item.message.clone())).await?;
            match item.message.customer_id {
                POISON_CUSTOMER => {
                    return Err(HandlerError::Poison(
                        "a request no handler can serve".into(),
                    ));
                }
                FLAKY_CUSTOMER => {
                    return Err(HandlerError::Transient(anyhow::anyhow!("a passing fault")));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// What [`RecordingHandler`] stages for `request`.
pub fn reply_to(request: OrderRequested) -> StockAvailable {
    StockAvailable {
        checkout_id: None,
        expires_at: None,
        cart_id: request.cart_id,
        customer_id: request.customer_id,
        items: request.items,
        payment_method: None,
        total_cents: None,
        shipping_address: None,
    }
}

/// A one-line order request of `customer_id` for a new cart.
pub fn request_of(customer_id: Uuid) -> OrderRequested {
    request(Uuid::new_v4(), customer_id)
}

/// A one-line order request for `cart_id`, by a new customer.
pub fn request_for(cart_id: Uuid) -> OrderRequested {
    request(cart_id, Uuid::new_v4())
}

fn request(cart_id: Uuid, customer_id: Uuid) -> OrderRequested {
    OrderRequested {
        checkout_id: None,
        expires_at: None,
        cart_id,
        customer_id,
        items: vec![LineItem {
            product_sku: cartflow_events::Sku::parse("KB-1").unwrap(),
            quantity: 1,
            unit_price_cents: 100,
        }],
        payment_method: None,
        shipping_address: None,
    }
}

/// A scratch database with the plumbing tables and a `handled` log, and a consumer of
/// `inventory.order-requested` on it.
pub async fn scratch_consumer(
    infra: &TestInfra,
    handler: Arc<dyn AnyHandler>,
) -> (PgPool, Consumer) {
    let pool = infra
        .database("scratch", &migrator_with(sqlx::migrate::Migrator::DEFAULT))
        .await;
    sqlx::query("CREATE TABLE handled (event_id UUID NOT NULL, cart_id UUID NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let consumer = Consumer::new(
        Outbox::new(Service::Inventory, pool.clone()),
        handler,
        infra.pubsub(),
        "inventory.order-requested",
        ConsumerSettings::default(),
    );
    (pool, consumer)
}

/// Inserts `n` inbox rows processed `age` ago, `n` published outbox rows created and
/// published `age` ago (or not published), for retention to find; the caller counts.
/// The outbox rows are marked `test_filler` in their attributes: they are no events, and
/// the end-to-end suite's AsyncAPI check passes them by.
pub async fn fill(pool: &PgPool, n: i64, age: &str, published: bool) {
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
         SELECT gen_random_uuid(), 'stock-available', 'k', '{\"test_filler\": true}', '{}', now() - $2::interval,
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

/// Makes the scratch database refuse the COMMIT of any transaction that handled a cart
/// listed in `fail_commit (cart_id)`: a deferred constraint trigger, so every statement
/// of the batch succeeds and only its commit fails. [`refuse_commits_for`] lists carts;
/// deleting the rows takes the fault away.
pub async fn fail_commits_of_listed_carts(pool: &PgPool) {
    sqlx::raw_sql(
        "CREATE TABLE fail_commit (cart_id UUID PRIMARY KEY);
         CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF EXISTS (SELECT 1 FROM fail_commit WHERE cart_id = NEW.cart_id) THEN
             RAISE EXCEPTION 'commit refused (test fault)';
           END IF;
           RETURN NULL;
         END $$;
         CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON handled
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// Lists `carts` in `fail_commit` (see [`fail_commits_of_listed_carts`]).
pub async fn refuse_commits_for(pool: &PgPool, carts: &[Uuid]) {
    sqlx::query("INSERT INTO fail_commit SELECT unnest($1::uuid[])")
        .bind(carts)
        .execute(pool)
        .await
        .unwrap();
}

//! A batch applied with one call of its handler, and after a failure one message at a
//! time.

use super::{Raw, replies_caused_by, runs_of};
use async_trait::async_trait;
use cartflow_events::OrderRequested;
use cartflow_messaging::consumer::Outcome;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Tx};
use cartflow_testkit::scratch::{POISON_CUSTOMER, reply_to, request_of, scratch_consumer};
use cartflow_testkit::{TestInfra, envelope_for};
use std::sync::Arc;
use uuid::Uuid;

/// Applies a batch's order requests with one insert (and a row in `together_calls`
/// saying how many) and a reply to each, unless one of them is the poison customer's:
/// then it fails, and the consumer must apply each again alone.
struct TogetherHandler;

#[async_trait]
impl EventHandler for TogetherHandler {
    type Message = OrderRequested;

    fn decode(&self, event: &Incoming) -> Result<OrderRequested, HandlerError> {
        event.decode()
    }

    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderRequested>,
    ) -> Result<(), HandlerError> {
        if batch
            .iter()
            .any(|i| i.message.customer_id == POISON_CUSTOMER)
        {
            return Err(HandlerError::Poison(
                "a request no handler can serve".into(),
            ));
        }
        let ids: Vec<Uuid> = batch.iter().map(|i| i.event.envelope.event_id).collect();
        let carts: Vec<Uuid> = batch.iter().map(|i| i.message.cart_id).collect();
        sqlx::query("INSERT INTO handled SELECT * FROM UNNEST($1::uuid[], $2::uuid[])")
            .bind(ids)
            .bind(carts)
            .execute(tx.conn())
            .await?;
        sqlx::query("INSERT INTO together_calls (events) VALUES ($1)")
            .bind(batch.len() as i32)
            .execute(tx.conn())
            .await?;
        for item in batch.iter() {
            item.publish(tx, &reply_to(item.message.clone())).await?;
        }
        Ok(())
    }
}

/// The handler is called once per batch, with the batch's first deliveries only
/// (copies and events processed before are skipped). If that call fails, the batch is
/// applied again one message at a time: the good ones commit once, the bad one alone is
/// refused, and nothing of the failed try stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_applied_with_one_call_of_its_handler_and_after_a_failure_one_by_one() {
    let infra = TestInfra::new().await;
    let (pool, consumer) = scratch_consumer(&infra, Arc::new(TogetherHandler)).await;
    sqlx::query("CREATE TABLE together_calls (n SERIAL, events INT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let calls = || async {
        let calls: Vec<i32> = sqlx::query_scalar("SELECT events FROM together_calls ORDER BY n")
            .fetch_all(&pool)
            .await
            .unwrap();
        calls
    };
    // Three good requests, then two good ones around the poison.
    let n = Uuid::new_v4;
    let customers = [n(), n(), n(), n(), POISON_CUSTOMER, n()];
    let events: Vec<_> = customers
        .iter()
        .map(|&customer| {
            let r = request_of(customer);
            (envelope_for::<OrderRequested>(r.cart_id), r)
        })
        .collect();
    let raw = |i: usize| Raw::of(&events[i].0, &events[i].1);
    let deliver = |batch: Vec<Raw>| {
        let consumer = consumer.clone();
        async move {
            let deliveries: Vec<_> = batch.iter().map(Raw::delivery).collect();
            consumer.deliver_batch(&deliveries).await
        }
    };

    assert_eq!(deliver(vec![raw(2)]).await, vec![Outcome::Processed]);
    let outcomes = deliver(vec![raw(0), raw(1), raw(0), raw(2)]).await;
    assert_eq!(outcomes[1], Outcome::Processed);
    assert_eq!(
        outcomes[3],
        Outcome::Duplicate,
        "processed in the batch before"
    );
    let mut copies = [outcomes[0], outcomes[2]];
    copies.sort_by_key(|o| *o != Outcome::Processed);
    assert_eq!(copies, [Outcome::Processed, Outcome::Duplicate]);
    assert_eq!(
        calls().await,
        vec![1, 2],
        "once per batch, its first deliveries only"
    );
    for (envelope, _) in &events[..3] {
        assert_eq!(runs_of(&pool, envelope.event_id).await, 1);
        assert_eq!(
            replies_caused_by(&pool, envelope).await,
            1,
            "one reply, in the saga of the event it answers"
        );
    }

    let outcomes = deliver(vec![raw(3), raw(4), raw(5)]).await;
    assert_eq!(
        outcomes,
        vec![Outcome::Processed, Outcome::Rejected, Outcome::Processed]
    );
    assert_eq!(
        calls().await,
        vec![1, 2, 1, 1],
        "the failed try left nothing; each good request was then applied alone"
    );
    assert_eq!(consumer.fallbacks(), 1);
    let runs: Vec<i64> =
        futures::future::join_all(events[3..].iter().map(|(e, _)| runs_of(&pool, e.event_id)))
            .await;
    assert_eq!(runs, vec![1, 0, 1]);
    let replies: Vec<i64> =
        futures::future::join_all(events[3..].iter().map(|(e, _)| replies_caused_by(&pool, e)))
            .await;
    assert_eq!(
        replies,
        vec![1, 0, 1],
        "the failed try's replies were dropped"
    );
}

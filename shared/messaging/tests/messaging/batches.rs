//! Batched consumption (one transaction per batch, a savepoint per message) against
//! real PostgreSQL and, where redelivery matters, the real emulator: what a poison
//! message, a duplicate and a failed commit do to the rest of their batch.

use async_trait::async_trait;
use cartflow_events::{Envelope, OrderRequested};
use cartflow_messaging::consumer::{Delivery, Outcome};
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Tx};
use cartflow_testkit::envelope_for;
use cartflow_testkit::scratch::{
    FLAKY_CUSTOMER, POISON_CUSTOMER, RecordingHandler, fail_commits_of_listed_carts,
    refuse_commits_for, reply_to, request_of, scratch_consumer,
};
use cartflow_testkit::{TestInfra, count, eventually};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A message as Pub/Sub would deliver it.
struct Raw {
    message_id: String,
    attributes: HashMap<String, String>,
    data: Vec<u8>,
}

impl Raw {
    fn of(envelope: &Envelope, request: &OrderRequested) -> Raw {
        Raw {
            message_id: Uuid::new_v4().to_string(),
            attributes: envelope.to_attributes(),
            data: serde_json::to_vec(request).unwrap(),
        }
    }

    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            message_id: &self.message_id,
            attributes: &self.attributes,
            data: &self.data,
            attempt: Some(1),
        }
    }
}

async fn runs_of(pool: &PgPool, event_id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM handled WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_its_good_messages_once_and_rolls_back_only_the_failing_ones() {
    let infra = TestInfra::new().await;
    let (pool, consumer) = scratch_consumer(&infra, Arc::new(RecordingHandler)).await;

    let good: Vec<_> = (0..2)
        .map(|_| {
            let r = request_of(Uuid::new_v4());
            (envelope_for::<OrderRequested>(r.cart_id), r)
        })
        .collect();
    let earlier_request = request_of(Uuid::new_v4());
    let earlier = envelope_for::<OrderRequested>(earlier_request.cart_id);
    let poison_request = request_of(POISON_CUSTOMER);
    let poison = envelope_for::<OrderRequested>(poison_request.cart_id);
    let flaky_request = request_of(FLAKY_CUSTOMER);
    let flaky = envelope_for::<OrderRequested>(flaky_request.cart_id);

    // One event already processed by an earlier batch.
    let first = consumer
        .deliver_batch(&[Raw::of(&earlier, &earlier_request).delivery()])
        .await;
    assert_eq!(first, vec![Outcome::Processed]);

    let no_envelope = Raw {
        message_id: "no-envelope".into(),
        attributes: HashMap::new(),
        data: b"{}".to_vec(),
    };
    let batch = [
        Raw::of(&good[0].0, &good[0].1),
        Raw::of(&poison, &poison_request),
        Raw::of(&earlier, &earlier_request), // processed before: a duplicate
        Raw::of(&good[1].0, &good[1].1),
        Raw::of(&good[0].0, &good[0].1), // the same event twice in one batch
        Raw::of(&flaky, &flaky_request),
        no_envelope,
    ];
    let deliveries: Vec<_> = batch.iter().map(Raw::delivery).collect();
    let outcomes = consumer.deliver_batch(&deliveries).await;

    // The copy of good[0] that comes later in event-id order is the duplicate; both
    // copies carry the same event id, so exactly one of them is processed.
    let good0 = [outcomes[0], outcomes[4]];
    assert!(
        good0.contains(&Outcome::Processed) && good0.contains(&Outcome::Duplicate),
        "one copy processed, one skipped: {outcomes:?}"
    );
    assert_eq!(
        [
            outcomes[1],
            outcomes[2],
            outcomes[3],
            outcomes[5],
            outcomes[6]
        ],
        [
            Outcome::Rejected,
            Outcome::Duplicate,
            Outcome::Processed,
            Outcome::Failed,
            Outcome::Rejected
        ],
        "{outcomes:?}"
    );

    // The good ones committed once; what the failing handlers wrote is gone.
    for (envelope, _) in &good {
        assert_eq!(runs_of(&pool, envelope.event_id).await, 1);
    }
    assert_eq!(runs_of(&pool, earlier.event_id).await, 1);
    assert_eq!(runs_of(&pool, poison.event_id).await, 0);
    assert_eq!(runs_of(&pool, flaky.event_id).await, 0);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM processed_messages").await,
        3,
        "earlier and the two good events; not the failing ones"
    );
    // Events staged by rolled-back messages are not in the outbox: one reply per
    // processed event (earlier + 2 good).
    assert_eq!(count(&pool, "SELECT count(*) FROM outbox").await, 3);
    let failures: Vec<(String, String)> =
        sqlx::query_as("SELECT failure_key, kind FROM message_failures ORDER BY kind, failure_key")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut expected = vec![
        ("no-envelope".to_string(), "rejected".to_string()),
        (poison.event_id.to_string(), "rejected".to_string()),
        (flaky.event_id.to_string(), "failing".to_string()),
    ];
    expected.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    assert_eq!(failures, expected);
    let duplicates: i32 =
        sqlx::query_scalar("SELECT sum(duplicate_deliveries)::int FROM processed_messages")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(duplicates, 2, "the earlier event and good[0]'s second copy");
}

/// A batch in which nothing fails takes the fast path: one inbox statement for all its
/// messages, no savepoints. Copies within it, and an event an earlier batch processed,
/// are skipped and counted; every other event runs its handler once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_without_failures_records_its_inbox_at_once_and_skips_every_copy() {
    let infra = TestInfra::new().await;
    let (pool, consumer) = scratch_consumer(&infra, Arc::new(RecordingHandler)).await;
    let events: Vec<_> = (0..3)
        .map(|_| {
            let r = request_of(Uuid::new_v4());
            (envelope_for::<OrderRequested>(r.cart_id), r)
        })
        .collect();
    let raw = |i: usize| Raw::of(&events[i].0, &events[i].1);
    let first = consumer.deliver_batch(&[raw(2).delivery()]).await;
    assert_eq!(first, vec![Outcome::Processed]);

    // events[0] three times, events[1] once, events[2] again (processed before).
    let batch = [raw(0), raw(1), raw(0), raw(2), raw(0)];
    let deliveries: Vec<_> = batch.iter().map(Raw::delivery).collect();
    let outcomes = consumer.deliver_batch(&deliveries).await;

    let copies_of_0 = [outcomes[0], outcomes[2], outcomes[4]];
    assert_eq!(
        copies_of_0
            .iter()
            .filter(|o| **o == Outcome::Processed)
            .count(),
        1,
        "one copy of events[0] processed, two skipped: {outcomes:?}"
    );
    assert_eq!(
        copies_of_0
            .iter()
            .filter(|o| **o == Outcome::Duplicate)
            .count(),
        2
    );
    assert_eq!(
        [outcomes[1], outcomes[3]],
        [Outcome::Processed, Outcome::Duplicate]
    );
    for (envelope, _) in &events {
        assert_eq!(runs_of(&pool, envelope.event_id).await, 1);
    }
    let counted: Vec<(Uuid, i32)> =
        sqlx::query_as("SELECT event_id, duplicate_deliveries FROM processed_messages")
            .fetch_all(&pool)
            .await
            .unwrap();
    let copies = |i: usize| {
        counted
            .iter()
            .find(|(id, _)| *id == events[i].0.event_id)
            .map(|(_, n)| *n)
    };
    assert_eq!(
        (copies(0), copies(1), copies(2)),
        (Some(2), Some(0), Some(1))
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM outbox").await,
        3,
        "one reply per event"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM message_failures").await,
        0
    );
}

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

/// Replies staged in the outbox as caused by this event, in its saga.
async fn replies_caused_by(pool: &PgPool, envelope: &Envelope) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox
         WHERE attributes ->> 'causation_id' = $1 AND attributes ->> 'correlation_id' = $2",
    )
    .bind(envelope.event_id.to_string())
    .bind(&envelope.correlation_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_commit_fails_is_redelivered_whole_and_processed_once() {
    let infra = TestInfra::new().await;
    let (pool, consumer) = scratch_consumer(&infra, Arc::new(RecordingHandler)).await;
    fail_commits_of_listed_carts(&pool).await;

    // Applied directly: the whole batch fails, nothing of it stands.
    let requests: Vec<_> = (0..3).map(|_| request_of(Uuid::new_v4())).collect();
    let carts: Vec<Uuid> = requests.iter().map(|r| r.cart_id).collect();
    refuse_commits_for(&pool, &carts).await;
    let raws: Vec<_> = requests
        .iter()
        .map(|r| Raw::of(&envelope_for::<OrderRequested>(r.cart_id), r))
        .collect();
    let deliveries: Vec<_> = raws.iter().map(Raw::delivery).collect();
    assert_eq!(
        consumer.deliver_batch(&deliveries).await,
        vec![Outcome::Failed; 3]
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM processed_messages").await,
        0
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM handled").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM outbox").await, 0);

    // Through Pub/Sub: a burst whose batches all fail at commit is redelivered.
    let stop = CancellationToken::new();
    let subscriber = infra.pubsub().subscriber().await.unwrap();
    let running = tokio::spawn(consumer.clone().run(subscriber, stop.clone()));
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let r = request_of(Uuid::new_v4());
            (envelope_for::<OrderRequested>(r.cart_id), r)
        })
        .collect();
    let carts: Vec<Uuid> = burst.iter().map(|(_, r)| r.cart_id).collect();
    refuse_commits_for(&pool, &carts).await;
    for (envelope, request) in &burst {
        infra.publish_raw(envelope, request, 1).await;
    }
    let burst_ids: Vec<Uuid> = burst.iter().map(|(e, _)| e.event_id).collect();
    eventually("every message of the burst to fail at commit", || async {
        let failed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM message_failures WHERE event_id = ANY($1)")
                .bind(&burst_ids)
                .fetch_one(&pool)
                .await
                .unwrap();
        (failed == 20).then_some(())
    })
    .await;
    assert_eq!(count(&pool, "SELECT count(*) FROM handled").await, 0);

    // The fault goes away: each message comes back and is applied exactly once.
    sqlx::query("DELETE FROM fail_commit")
        .execute(&pool)
        .await
        .unwrap();
    eventually("the burst to be applied after redelivery", || async {
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM processed_messages WHERE event_id = ANY($1)")
                .bind(&burst_ids)
                .fetch_one(&pool)
                .await
                .unwrap();
        (applied == 20).then_some(())
    })
    .await;
    stop.cancel();
    running.await.unwrap();
    for id in &burst_ids {
        assert_eq!(runs_of(&pool, *id).await, 1, "event {id} applied once");
    }
}

//! Poison messages: dead-lettered while good ones keep flowing, listed, and replayed
//! exactly once after the fix.

use super::{consumer_with, counting_consumer, handled};
use async_trait::async_trait;
use cartflow_events::OrderRequested;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Tx};
use cartflow_testkit::scratch::{CountingHandler, request_for};
use cartflow_testkit::{TestInfra, count, envelope_for, eventually};
use google_cloud_pubsub::model::Message;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Like `CountingHandler`, but fails while the `broken` table has a row: a bug that
/// an operator fixes later.
struct FixableHandler;

#[async_trait]
impl EventHandler for FixableHandler {
    type Message = OrderRequested;

    fn decode(&self, event: &Incoming) -> Result<OrderRequested, HandlerError> {
        event.decode()
    }

    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderRequested>,
    ) -> Result<(), HandlerError> {
        let broken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM broken)")
            .fetch_one(tx.conn())
            .await?;
        if broken {
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "the handler has a bug"
            )));
        }
        CountingHandler.handle_batch(tx, batch).await
    }
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_while_good_ones_keep_flowing() {
    let infra = TestInfra::new().await;
    let (pool, stop, running) = counting_consumer(&infra).await;
    let pubsub = infra.pubsub();
    let topic = pubsub
        .publisher()
        .await
        .unwrap()
        .publisher(pubsub.topic_path("order-requested"))
        .build();

    // No envelope at all, then a known type with a body that does not parse.
    topic
        .publish(Message::new().set_data("{not json"))
        .await
        .unwrap();
    let broken = envelope_for::<OrderRequested>(Uuid::new_v4());
    topic
        .publish(
            Message::new()
                .set_data(r#"{"cart_id":"nope"}"#)
                .set_attributes(broken.to_attributes()),
        )
        .await
        .unwrap();
    // Good work published after the poison is processed regardless.
    let good: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for &cart_id in &good {
        infra
            .publish_raw(
                &envelope_for::<OrderRequested>(cart_id),
                &request_for(cart_id),
                1,
            )
            .await;
    }
    eventually("the good messages", || async {
        let total = count(&pool, "SELECT count(*) FROM handled").await;
        (total == good.len() as i64).then_some(())
    })
    .await;

    // After the delivery budget (5 attempts, 1 s doubling backoff) both land in the
    // dead-letter topic's own subscription, marked by Pub/Sub with where they came from.
    let parked = pubsub.subscriber().await.unwrap();
    let mut stream = parked
        .subscribe(pubsub.subscription_path("inventory.order-requested.dead-letter"))
        .build();
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while dead.len() < 2 {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let (message, ack) = next
            .expect("both poison messages reach the dead-letter subscription")
            .unwrap()
            .unwrap();
        ack.ack();
        dead.push(message);
    }
    let bodies: Vec<&[u8]> = dead.iter().map(|m| m.data.as_ref()).collect();
    assert!(bodies.contains(&b"{not json".as_slice()));
    assert!(dead.iter().all(|m| {
        m.attributes
            .keys()
            .any(|k| k.starts_with("CloudPubSubDeadLetterSource"))
    }));
    let processed = count(&pool, "SELECT count(*) FROM processed_messages").await;
    assert_eq!(
        processed,
        good.len() as i64,
        "poison must leave no trace in the inbox"
    );
    // ...but both are in the failure log, as never processable, with every attempt.
    let rejected: Vec<(i32, Option<String>)> =
        sqlx::query_as("SELECT attempts, event_type FROM message_failures WHERE kind = 'rejected' ORDER BY event_type")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rejected, [(5, Some("order-requested".into())), (5, None)]);
    stream.shutdown_token().shutdown().await;
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_listed_and_after_the_fix_replayed_exactly_once() {
    use cartflow_messaging::dead_letters::{self as dlq, Filter};
    let infra = TestInfra::new().await;
    let (pool, stop, running) = consumer_with(&infra, Arc::new(FixableHandler)).await;
    sqlx::query("INSERT INTO broken DEFAULT VALUES")
        .execute(&pool)
        .await
        .unwrap();
    let pubsub = infra.pubsub();
    let parked = "inventory.order-requested.dead-letter";
    let idle = Duration::from_secs(3);

    let cart_id = Uuid::new_v4();
    let envelope = envelope_for::<OrderRequested>(cart_id);
    infra.publish_raw(&envelope, &request_for(cart_id), 1).await;
    let event_id = envelope.event_id.to_string();

    // Five failed deliveries (1 s doubling backoff), then the dead-letter topic.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let letters = loop {
        let letters = dlq::list(pubsub, parked, idle).await.unwrap();
        if !letters.is_empty() {
            break letters;
        }
        assert!(std::time::Instant::now() < deadline, "never dead-lettered");
    };
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event_id.as_deref(), Some(event_id.as_str()));
    assert_eq!(letters[0].event_type.as_deref(), Some("order-requested"));
    assert_eq!(letters[0].correlation_id, Some(cart_id.to_string()));
    assert_eq!(letters[0].delivery_attempts.as_deref(), Some("5"));
    assert_eq!(handled(&pool, cart_id).await, 0);
    // Each failed attempt is in the failure log, with the handler's error.
    let (attempts, kind, error): (i32, String, String) = sqlx::query_as(
        "SELECT attempts, kind, last_error FROM message_failures WHERE event_id = $1 AND service = 'inventory'",
    )
    .bind(envelope.event_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((attempts, kind.as_str()), (5, "failing"));
    assert!(error.contains("the handler has a bug"), "{error}");

    // A look lets go of what it saw as it ends; each step still waits, with a deadline,
    // until it sees the message (it may arrive just after a look).
    let only = Filter {
        event_ids: vec![event_id.clone()],
        ..Filter::default()
    };
    let until_seen = |filter: Filter, dry_run: bool| async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let report = dlq::replay(pubsub, parked, &filter, dry_run, idle, |_, _, _| {})
                .await
                .unwrap();
            if report.matched + report.left > 0 {
                return report;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the dead letter never came back into view"
            );
        }
    };
    // A dry run changes nothing. (Filters are unit-tested in `cartflow::dlq`; every
    // extra look here would cost another ack-deadline wait.)
    let dry = until_seen(only.clone(), true).await;
    assert_eq!((dry.matched, dry.replayed), (1, 0));
    assert_eq!(handled(&pool, cart_id).await, 0);

    // Fixed: replayed, processed once, gone from the dead letters.
    sqlx::query("DELETE FROM broken")
        .execute(&pool)
        .await
        .unwrap();
    let done = until_seen(only, false).await;
    assert_eq!((done.matched, done.replayed), (1, 1));
    eventually("the replayed event to be handled", || async {
        (handled(&pool, cart_id).await == 1).then_some(())
    })
    .await;
    // Same event id as before: had it been replayed twice, the inbox would skip it.
    infra.publish_raw(&envelope, &request_for(cart_id), 1).await;
    eventually("the copy to be recognised", || async {
        let duplicates: i32 = sqlx::query_scalar(
            "SELECT duplicate_deliveries FROM processed_messages WHERE event_id = $1",
        )
        .bind(envelope.event_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        (duplicates == 1).then_some(())
    })
    .await;
    assert_eq!(handled(&pool, cart_id).await, 1);
    stop.cancel();
    running.await.unwrap();
}

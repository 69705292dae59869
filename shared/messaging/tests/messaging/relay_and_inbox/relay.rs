//! Outbox crash safety: an event committed while the relay is down is published once when
//! it returns.

use cartflow_events::{OrderRequested, Service};
use cartflow_messaging::relay::DrainReport;
use cartflow_messaging::{Cause, Outbox, OutboxRelay, RelaySettings, migrator_with};
use cartflow_testkit::scratch::request_for;
use cartflow_testkit::{TestInfra, count, eventually};
use google_cloud_pubsub::model::Message;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_while_the_relay_is_down_is_published_once_when_it_returns() {
    let infra = TestInfra::new().await;
    let pubsub = infra.pubsub().clone();
    let pool = infra
        .database("scratch", &migrator_with(sqlx::migrate::Migrator::DEFAULT))
        .await;

    // An observer subscription on the topic, to see what reaches Pub/Sub.
    let observer = pubsub.subscription_path("observer.order-requested");
    pubsub
        .subscription_admin()
        .await
        .unwrap()
        .create_subscription()
        .set_name(&observer)
        .set_topic(pubsub.topic_path("order-requested"))
        .send()
        .await
        .unwrap();

    // The business transaction commits; the relay is "down" (not running).
    let outbox = Outbox::new(Service::Cart, pool.clone());
    let cart_id = Uuid::new_v4();
    let request = request_for(cart_id);
    let mut tx = outbox.begin().await.unwrap();
    let event_id = tx
        .publish_caused_by(&Cause::command(cart_id), &request)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let unpublished = count(
        &pool,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL",
    )
    .await;
    assert_eq!(unpublished, 1);

    // The process "dies" before its relay takes the event: a new process (a new
    // outbox, with nothing handed over in memory) comes back and its sweep finds the row.
    drop(outbox);
    let outbox = Outbox::new(Service::Cart, pool.clone());
    let relay = OutboxRelay::new(outbox.clone(), pubsub.clone(), RelaySettings::default())
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(relay.run(stop.clone()));

    let subscriber = pubsub.subscriber().await.unwrap();
    let mut stream = subscriber.subscribe(&observer).build();
    let mut received: Vec<Message> = Vec::new();
    let first = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("the event reached Pub/Sub")
        .unwrap()
        .unwrap();
    first.1.ack();
    received.push(first.0);
    assert_eq!(received[0].attributes["event_id"], event_id.to_string());
    assert_eq!(received[0].attributes["event_type"], "order-requested");
    assert_eq!(
        received[0].attributes["correlation_id"],
        cart_id.to_string()
    );
    assert_eq!(
        received[0].ordering_key, "",
        "published without an ordering key: subscriptions are unordered (relay.rs says why)"
    );
    let body: OrderRequested = serde_json::from_slice(&received[0].data).unwrap();
    assert_eq!(body, request);

    // Marked published, once; a restarted relay finds nothing more to send.
    eventually("the row to be marked published", || async {
        let attempts: Option<i32> = sqlx::query_scalar(
            "SELECT publish_attempts FROM outbox WHERE event_id = $1 AND published_at IS NOT NULL",
        )
        .bind(event_id)
        .fetch_optional(&pool)
        .await
        .unwrap();
        attempts.map(|a| assert_eq!(a, 1))
    })
    .await;
    stop.cancel();
    running.await.unwrap();
    let restarted = OutboxRelay::new(outbox, pubsub.clone(), RelaySettings::default())
        .await
        .unwrap();
    assert_eq!(restarted.drain().await.unwrap(), DrainReport::default());

    // A sentinel published after the restart arrives; no second copy came before it.
    let sentinel = pubsub
        .publisher()
        .await
        .unwrap()
        .publisher(pubsub.topic_path("order-requested"))
        .build();
    sentinel
        .publish(Message::new().set_data("sentinel"))
        .await
        .unwrap();
    loop {
        let (message, ack) = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the sentinel arrives")
            .unwrap()
            .unwrap();
        ack.ack();
        if message.data.as_ref() == b"sentinel" {
            break;
        }
        received.push(message);
    }
    assert_eq!(received.len(), 1, "the event was published more than once");
    stream.shutdown_token().shutdown().await;
}

//! The inbox's duplicate detection: the handler runs once per event id.

use super::{counting_consumer, handled};
use cartflow_events::OrderRequested;
use cartflow_testkit::scratch::request_for;
use cartflow_testkit::{TestInfra, envelope_for, eventually};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_runs_the_handler_once_per_event_id() {
    let infra = TestInfra::new().await;
    let (pool, stop, running) = counting_consumer(&infra).await;
    let cart_id = Uuid::new_v4();
    let envelope = envelope_for::<OrderRequested>(cart_id);

    infra.publish_raw(&envelope, &request_for(cart_id), 3).await;
    eventually("two duplicates to be recognised", || async {
        let duplicates: Option<i32> = sqlx::query_scalar(
            "SELECT duplicate_deliveries FROM processed_messages WHERE event_id = $1",
        )
        .bind(envelope.event_id)
        .fetch_optional(&pool)
        .await
        .unwrap();
        duplicates.filter(|&d| d >= 2)
    })
    .await;
    assert_eq!(handled(&pool, cart_id).await, 1);

    // A different event about the same cart is a different event: it runs.
    let second = envelope_for::<OrderRequested>(cart_id);
    infra.publish_raw(&second, &request_for(cart_id), 1).await;
    eventually("the second event", || async {
        (handled(&pool, cart_id).await == 2).then_some(())
    })
    .await;
    stop.cancel();
    running.await.unwrap();
}

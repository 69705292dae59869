//! A batch whose commit fails is redelivered whole and processed once.

use super::{Raw, runs_of};
use cartflow_events::OrderRequested;
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::scratch::{
    RecordingHandler, fail_commits_of_listed_carts, refuse_commits_for, request_of,
    scratch_consumer,
};
use cartflow_testkit::{TestInfra, count, envelope_for, eventually};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

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

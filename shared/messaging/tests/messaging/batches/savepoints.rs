//! One transaction per batch: the good messages commit once and only the failing ones
//! roll back; a batch without failures records its inbox at once and skips every copy.

use super::{Raw, runs_of};
use cartflow_events::OrderRequested;
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::scratch::{
    FLAKY_CUSTOMER, POISON_CUSTOMER, RecordingHandler, request_of, scratch_consumer,
};
use cartflow_testkit::{TestInfra, count, envelope_for};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

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

//! Push delivery's batches: concurrent pushes are gathered into one transaction, and
//! each request is answered for what its batch really did. Pushed over real HTTP to
//! the kit's push route (as Pub/Sub's wrapped format), on real PostgreSQL; the last
//! test lets the real emulator push and redeliver.

use base64::Engine;
use cartflow_events::{Envelope, OrderRequested, Service};
use cartflow_kit::push::{self, PUSH_PATH, PushAuth};
use cartflow_messaging::consumer::{Gatherer, Outcome, Pushed};
use cartflow_messaging::{Consumer, ConsumerSettings, Outbox};
use cartflow_testkit::envelope_for;
use cartflow_testkit::scratch::{
    FLAKY_CUSTOMER, POISON_CUSTOMER, RecordingHandler, fail_commits_of_listed_carts,
    refuse_commits_for, request_of, scratch_consumer,
};
use cartflow_testkit::{TestInfra, count, eventually, eventually_within};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A scratch consumer whose one batch worker lets pushes queue behind it, its
/// handler's writes tagged with their transaction, served on a loopback port.
struct PushTarget {
    pool: PgPool,
    gatherer: Gatherer,
    url: String,
    subscription: String,
}

/// One batch worker, and no gathering window: a push goes to a free worker at once.
fn one_worker() -> ConsumerSettings {
    ConsumerSettings {
        max_concurrency: 1,
        gather_window: Duration::ZERO,
        ..ConsumerSettings::default()
    }
}

async fn push_target(infra: &TestInfra, settings: ConsumerSettings) -> PushTarget {
    // The helper's consumer has four workers; this test's, what `settings` say.
    let (pool, _four_workers) = scratch_consumer(infra, Arc::new(RecordingHandler)).await;
    sqlx::query("ALTER TABLE handled ADD COLUMN xact BIGINT NOT NULL DEFAULT txid_current()")
        .execute(&pool)
        .await
        .unwrap();
    fail_commits_of_listed_carts(&pool).await;
    let consumer = Consumer::new(
        Outbox::new(Service::Inventory, pool.clone()),
        Arc::new(RecordingHandler),
        infra.pubsub(),
        "inventory.order-requested",
        settings,
    );
    let subscription = consumer.subscription().to_string();
    let (gatherer, batches) = Gatherer::new(vec![consumer]);
    tokio::spawn(batches);
    let router = axum::Router::from(push::router(gatherer.clone(), &PushAuth::Unauthenticated));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    PushTarget {
        pool,
        gatherer,
        url,
        subscription,
    }
}

impl PushTarget {
    /// POSTs `request` under `envelope` as Pub/Sub's push would; the answer's status.
    async fn push(&self, envelope: &Envelope, request: &OrderRequested) -> StatusCode {
        let body = json!({
            "message": {
                "attributes": envelope.to_attributes(),
                "data": base64::engine::general_purpose::STANDARD
                    .encode(serde_json::to_vec(request).unwrap()),
                "messageId": Uuid::new_v4().to_string(),
            },
            "subscription": self.subscription,
            "deliveryAttempt": 1,
        });
        reqwest::Client::new()
            .post(format!("{}{PUSH_PATH}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Holds the `handled` table locked until the returned transaction ends, so the
    /// batch in flight waits and what is pushed meanwhile queues behind it.
    async fn hold_batches(&self) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let mut lock = self.pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE handled IN EXCLUSIVE MODE")
            .execute(&mut *lock)
            .await
            .unwrap();
        lock
    }

    /// Pushes `leader` alone and holds its batch on a lock, pushes `burst` at once so
    /// that it queues behind, then lets go: the leader's status, and each burst push's.
    async fn push_behind_a_held_batch(
        self: &Arc<Self>,
        leader: &(Envelope, OrderRequested),
        burst: &[(Envelope, OrderRequested)],
    ) -> (StatusCode, Vec<StatusCode>) {
        let lock = self.hold_batches().await;
        let leading = {
            let (target, (envelope, request)) = (self.clone(), leader.clone());
            tokio::spawn(async move { target.push(&envelope, &request).await })
        };
        self.batch_waiting_on_lock().await;
        let answers: Vec<_> = burst
            .iter()
            .cloned()
            .map(|(envelope, request)| {
                let target = self.clone();
                tokio::spawn(async move { target.push(&envelope, &request).await })
            })
            .collect();
        eventually("the burst to queue behind the held batch", || async {
            (self.gatherer.pending() == 1 + burst.len()).then_some(())
        })
        .await;
        lock.commit().await.unwrap();
        let leader = leading.await.unwrap();
        let mut statuses = Vec::new();
        for answer in answers {
            statuses.push(answer.await.unwrap());
        }
        (leader, statuses)
    }

    /// Waits until a batch is blocked on [`PushTarget::hold_batches`]'s lock.
    async fn batch_waiting_on_lock(&self) {
        eventually("a batch to wait on the lock", || async {
            let waiting = count(
                &self.pool,
                "SELECT count(*) FROM pg_locks WHERE NOT granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .await;
            (waiting > 0).then_some(())
        })
        .await;
    }

    /// Pushes one new event alone and checks it was applied once; how long its answer
    /// took.
    async fn push_one(&self) -> Duration {
        let (envelope, request) = event(Uuid::new_v4());
        let started = Instant::now();
        let status = self.push(&envelope, &request).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(self.runs_of(&envelope).await, 1);
        took
    }

    async fn transactions(&self) -> i64 {
        count(&self.pool, "SELECT count(DISTINCT xact) FROM handled").await
    }

    async fn runs_of(&self, envelope: &Envelope) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM handled WHERE event_id = $1")
            .bind(envelope.event_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

fn event(customer: Uuid) -> (Envelope, OrderRequested) {
    let request = request_of(customer);
    (envelope_for::<OrderRequested>(request.cart_id), request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_share_one_transaction_and_each_is_answered_for_its_own_outcome() {
    let infra = TestInfra::new().await;
    let target = Arc::new(push_target(&infra, one_worker()).await);

    // The first push takes the one worker and waits on a lock. A burst queues behind
    // it: good events (one pushed three times), a poison one and one whose handler
    // fails for now.
    let first = event(Uuid::new_v4());
    let good: Vec<_> = (0..12).map(|_| event(Uuid::new_v4())).collect();
    let poison = event(POISON_CUSTOMER);
    let flaky = event(FLAKY_CUSTOMER);
    let mut burst: Vec<_> = good.clone();
    burst.extend([
        good[0].clone(),
        good[0].clone(),
        poison.clone(),
        flaky.clone(),
    ]);
    let (leader, statuses) = target.push_behind_a_held_batch(&first, &burst).await;

    assert_eq!(leader, StatusCode::NO_CONTENT);
    let expected: Vec<_> = burst
        .iter()
        .map(|(_, request)| match request.customer_id {
            POISON_CUSTOMER => StatusCode::UNPROCESSABLE_ENTITY,
            FLAKY_CUSTOMER => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::NO_CONTENT,
        })
        .collect();
    assert_eq!(statuses, expected, "each push answered for its own outcome");
    for (envelope, _) in good.iter().chain([&first]) {
        assert_eq!(target.runs_of(envelope).await, 1, "applied once");
    }
    assert_eq!(
        target.runs_of(&poison.0).await,
        0,
        "the poison rolled back alone"
    );
    assert_eq!(target.runs_of(&flaky.0).await, 0);
    // The leader's batch, then one for everything that queued behind it.
    assert_eq!(
        target.transactions().await,
        2,
        "the burst went in one transaction"
    );
    assert_eq!(
        count(&target.pool, "SELECT count(*) FROM processed_messages").await,
        13,
        "one inbox row per good event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_batch_fails_at_commit_is_not_acknowledged_and_is_applied_once_when_pushed_again()
 {
    let infra = TestInfra::new().await;
    let target = Arc::new(push_target(&infra, one_worker()).await);
    let bomb = event(Uuid::new_v4());
    refuse_commits_for(&target.pool, &[bomb.1.cart_id]).await;

    // The bomb's companions: their own work is fine, their batch's commit is not.
    let companions: Vec<_> = (0..5).map(|_| event(Uuid::new_v4())).collect();
    let batch: Vec<_> = companions.iter().chain([&bomb]).cloned().collect();
    let (leader, statuses) = target
        .push_behind_a_held_batch(&event(Uuid::new_v4()), &batch)
        .await;
    assert_eq!(leader, StatusCode::NO_CONTENT);
    assert_eq!(
        statuses,
        vec![StatusCode::SERVICE_UNAVAILABLE; batch.len()],
        "no 2xx for work that did not commit"
    );
    for (envelope, _) in &batch {
        assert_eq!(target.runs_of(envelope).await, 0);
    }
    assert_eq!(
        count(&target.pool, "SELECT count(*) FROM processed_messages").await,
        1,
        "only the leader's batch stands"
    );

    // Pub/Sub pushes them again once the fault is gone: each applied once.
    sqlx::query("DELETE FROM fail_commit")
        .execute(&target.pool)
        .await
        .unwrap();
    for (envelope, request) in &batch {
        assert_eq!(target.push(envelope, request).await, StatusCode::NO_CONTENT);
        assert_eq!(target.push(envelope, request).await, StatusCode::NO_CONTENT);
    }
    for (envelope, _) in &batch {
        assert_eq!(target.runs_of(envelope).await, 1, "applied once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_window_off_a_lone_push_waits_for_no_company() {
    let infra = TestInfra::new().await;
    let target = push_target(&infra, one_worker()).await;
    target.push_one().await; // warms the connection pool and the route
    let took = target.push_one().await;
    // Its own work is a transaction of a few milliseconds; a batch that waited for
    // company would add its window. A second leaves room for two busy cores.
    assert!(
        took < Duration::from_secs(1),
        "a lone push took {took:?} to be answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_within_the_gathering_window_share_a_batch_and_a_lone_push_waits_only_the_window() {
    // Long enough that the second push surely comes while the first waits, on two busy cores.
    const WINDOW: Duration = Duration::from_secs(2);
    let infra = TestInfra::new().await;
    let settings = ConsumerSettings {
        gather_window: WINDOW,
        ..one_worker()
    };
    let target = Arc::new(push_target(&infra, settings).await);
    target.push_one().await; // warms the connection pool and the route

    // A lone push is answered once the window closes, plus its own work.
    let took = target.push_one().await;
    assert!(
        took >= WINDOW,
        "a lone push waited {took:?}, less than the window"
    );
    assert!(
        took < WINDOW + Duration::from_secs(1),
        "a lone push took {took:?} to be answered; its window is {WINDOW:?}"
    );

    // A push that comes while the first waits for company joins its batch.
    let before = target.transactions().await;
    let (first, second) = (event(Uuid::new_v4()), event(Uuid::new_v4()));
    let pushing = {
        let (target, (envelope, request)) = (target.clone(), first.clone());
        tokio::spawn(async move { target.push(&envelope, &request).await })
    };
    eventually("the first push to wait for company", || async {
        (target.gatherer.pending() == 1).then_some(())
    })
    .await;
    assert_eq!(
        target.push(&second.0, &second.1).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(pushing.await.unwrap(), StatusCode::NO_CONTENT);
    assert_eq!(
        target.transactions().await,
        before + 1,
        "the two pushes were applied in one transaction"
    );
    assert_eq!(target.runs_of(&first.0).await, 1);
    assert_eq!(target.runs_of(&second.0).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_does_not_wait_for_the_window_to_close() {
    let infra = TestInfra::new().await;
    let settings = ConsumerSettings {
        gather_window: Duration::from_secs(3),
        batch_size: 3,
        ..one_worker()
    };
    let target = Arc::new(push_target(&infra, settings).await);
    // The first batch warms the connection pool and the route; both are timed.
    for _ in 0..2 {
        let before = target.transactions().await;
        let started = Instant::now();
        let pushes: Vec<_> = (0..3)
            .map(|_| {
                let (target, (envelope, request)) = (target.clone(), event(Uuid::new_v4()));
                tokio::spawn(async move { target.push(&envelope, &request).await })
            })
            .collect();
        for push in pushes {
            assert_eq!(push.await.unwrap(), StatusCode::NO_CONTENT);
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "a full batch waited {took:?}: as long as its window"
        );
        assert_eq!(
            target.transactions().await,
            before + 1,
            "one batch of three"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gatherer_ends_once_every_handle_is_gone_and_all_is_answered() {
    let infra = TestInfra::new().await;
    let (pool, _four_workers) = scratch_consumer(&infra, Arc::new(RecordingHandler)).await;
    let consumer = Consumer::new(
        Outbox::new(Service::Inventory, pool),
        Arc::new(RecordingHandler),
        infra.pubsub(),
        "inventory.order-requested",
        ConsumerSettings::default(),
    );
    let subscription = consumer.subscription().to_string();
    let (gatherer, batches) = Gatherer::new(vec![consumer]);
    let batches = tokio::spawn(batches);
    let (envelope, request) = event(Uuid::new_v4());
    let pushed = Pushed {
        message_id: Uuid::new_v4().to_string(),
        attributes: envelope.to_attributes(),
        data: serde_json::to_vec(&request).unwrap(),
        attempt: Some(1),
    };
    let outcome = gatherer.deliver(&subscription, pushed).await;
    assert!(matches!(outcome, Some(Outcome::Processed)), "{outcome:?}");
    // A service's shutdown waits for this task: it must end, window or none.
    drop(gatherer);
    tokio::time::timeout(Duration::from_secs(5), batches)
        .await
        .expect("the gatherer's task ended")
        .unwrap();
}

/// The real emulator pushes a burst with a poison message and copies, while commits
/// fail for a while: the good events are applied once, the poison is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_pushes_a_burst_through_failed_commits_and_every_good_event_lands_once() {
    let infra = TestInfra::new().await;
    let target = push_target(&infra, one_worker()).await;
    let good: Vec<_> = (0..20).map(|_| event(Uuid::new_v4())).collect();
    let faulty: Vec<Uuid> = good[..5].iter().map(|(_, r)| r.cart_id).collect();
    refuse_commits_for(&target.pool, &faulty).await;
    cartflow_messaging::provision::set_push_endpoints(
        infra.pubsub(),
        &[(Service::Inventory, target.url.clone())],
        PUSH_PATH,
    )
    .await
    .unwrap();
    let poison = event(POISON_CUSTOMER);
    for (envelope, request) in &good {
        infra.publish_raw(envelope, request, 2).await;
    }
    infra.publish_raw(&poison.0, &poison.1, 1).await;

    let ids: Vec<Uuid> = good.iter().map(|(e, _)| e.event_id).collect();
    eventually("the faulty events' commits to fail", || async {
        let failed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM message_failures WHERE event_id = ANY($1) AND kind = 'failing'",
        )
        .bind(&ids[..5])
        .fetch_one(&target.pool)
        .await
        .unwrap();
        (failed == 5).then_some(())
    })
    .await;
    sqlx::query("DELETE FROM fail_commit")
        .execute(&target.pool)
        .await
        .unwrap();
    eventually_within(
        Duration::from_secs(60),
        "every good event to be applied",
        || async {
            let applied: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM processed_messages WHERE event_id = ANY($1)",
            )
            .bind(&ids)
            .fetch_one(&target.pool)
            .await
            .unwrap();
            (applied == 20).then_some(())
        },
    )
    .await;
    for (envelope, _) in &good {
        assert_eq!(target.runs_of(envelope).await, 1, "applied once");
    }
    eventually_within(
        Duration::from_secs(60),
        "the poison to be dead-lettered",
        || async {
            let attempts: Option<i32> = sqlx::query_scalar(
                "SELECT attempts FROM message_failures WHERE event_id = $1 AND kind = 'rejected'",
            )
            .bind(poison.0.event_id)
            .fetch_optional(&target.pool)
            .await
            .unwrap();
            (attempts >= Some(cartflow_events::topology::MAX_DELIVERY_ATTEMPTS)).then_some(())
        },
    )
    .await;
    assert_eq!(target.runs_of(&poison.0).await, 0);
}

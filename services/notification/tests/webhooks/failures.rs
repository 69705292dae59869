//! Endpoints that fail: back-off and order after recovery, a hanging endpoint slowing
//! no one, parked deliveries replayed and an endpoint failing too long paused.

use super::{Notification, order_created};
use axum::http::StatusCode;
use cartflow_events::OrderCreated;
use cartflow_testkit::webhook_receiver::{Behaviour, Receiver};
use cartflow_testkit::{eventually, eventually_within};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::{Duration, Instant};

/// An endpoint that answers 500 for a while gets everything once it recovers, in the
/// order the events happened; one that never answers delays neither the other
/// endpoints nor the consumption of the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_gets_everything_in_order_after_backoff_and_a_hanging_one_slows_no_one()
{
    let notification = Notification::start(&[("WEBHOOK_TIMEOUT_MS", "10000")]).await;
    let (flaky, hanging, healthy) = (
        Receiver::start(Behaviour::Ok).await,
        Receiver::start(Behaviour::Ok).await,
        Receiver::start(Behaviour::Ok).await,
    );
    let flaky_id = notification.subscribe(&flaky, &["order.created"]).await;
    let hanging_id = notification.subscribe(&hanging, &["order.created"]).await;
    notification.subscribe(&healthy, &["order.created"]).await;
    flaky.behave(Behaviour::Fail);
    hanging.behave(Behaviour::Hang);

    // Published newest first: the order of delivery is the order they happened.
    let base = Utc::now();
    let orders: Vec<OrderCreated> = (0..5).map(|_| order_created()).collect();
    let started = Instant::now();
    let mut ids = Vec::new();
    for (i, order) in orders.iter().enumerate().rev() {
        ids.push((
            i,
            notification
                .publish(order, base + chrono::Duration::milliseconds(i as i64), 1)
                .await,
        ));
    }
    ids.sort();

    // The healthy endpoint has all five well before the hanging one's first call times
    // out, and the events were consumed (their notifications recorded) as fast.
    healthy.has(5).await;
    let healthy_took = started.elapsed();
    assert!(
        healthy_took < Duration::from_millis(8000),
        "the healthy endpoint waited {healthy_took:?}"
    );
    let pool = notification.service.as_ref().unwrap().pool.clone();
    let consumed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE kind = 'order_confirmed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        consumed, 10,
        "email and push for each of the five, already recorded"
    );

    // The flaky endpoint: every event queued behind the retried head, then it recovers.
    eventually(
        "the flaky endpoint's five queued and the head retried",
        || async {
            let pending = notification.deliveries(flaky_id, "pending").await;
            let retried = pending.iter().any(|d| d["attempts"].as_i64() >= Some(2));
            (pending.len() == 5 && retried).then_some(())
        },
    )
    .await;
    flaky.behave(Behaviour::Ok);
    let got = flaky.has(5).await;
    let order: Vec<String> = got.iter().map(|m| m.id.clone()).collect();
    let expected: Vec<String> = ids.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(order, expected, "in the order the events happened");
    assert_eq!(flaky.inbox.lock().unwrap().copies, 0);

    // The head's attempts: 500s with the start of the answer, then the success.
    let first = notification.deliveries(flaky_id, "delivered").await;
    let head = first
        .iter()
        .find(|d| d["event_id"] == expected[0].as_str())
        .unwrap();
    let (_, detail) = notification
        .staff(
            reqwest::Method::GET,
            &format!(
                "/webhooks/{flaky_id}/deliveries/{}",
                head["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let attempts = detail["attempts_made"].as_array().unwrap();
    assert!(attempts.len() >= 3, "{detail}");
    let (last, failed) = attempts.split_last().unwrap();
    assert_eq!(last["status_code"], 204, "{detail}");
    for attempt in failed {
        assert_eq!(attempt["status_code"], 500, "{detail}");
        assert_eq!(attempt["response_head"], "nope, not today");
        assert!(attempt["latency_ms"].as_i64().unwrap() >= 0);
    }
    // Backoff between the failed calls: each wait at least 0.8 × the doubling base.
    let starts: Vec<DateTime<Utc>> = attempts
        .iter()
        .map(|a| a["started_at"].as_str().unwrap().parse().unwrap())
        .collect();
    for (n, pair) in starts.windows(2).enumerate() {
        let wait = (pair[1] - pair[0]).num_milliseconds();
        let floor = (100 * (1 << n)).min(400) * 8 / 10;
        assert!(wait >= floor, "wait {n} was {wait} ms, under {floor}");
    }

    // The hanging endpoint's first call timed out, recorded as such; nothing was
    // received there, and its later events wait behind its head.
    eventually_within(
        Duration::from_secs(30),
        "the hanging call timed out",
        || async {
            let pending = notification.deliveries(hanging_id, "pending").await;
            let timed_out = pending
                .iter()
                .find(|d| d["attempts"].as_i64() >= Some(1))?
                .clone();
            Some(timed_out)
        },
    )
    .await;
    assert_eq!(hanging.messages().len(), 0);
    let endpoint = notification.endpoint(hanging_id).await;
    assert!(endpoint["failing_since"].is_string(), "{endpoint}");
    notification.stop().await;
}

/// A delivery out of retries is parked; an endpoint failing longer than allowed is
/// paused; once fixed, staff replay what was parked and resume it, and all of it
/// arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_deliveries_are_replayed_and_an_endpoint_failing_too_long_is_paused() {
    let notification = Notification::start(&[
        ("WEBHOOK_MAX_ATTEMPTS", "3"),
        ("WEBHOOK_AUTO_PAUSE_SECS", "1"),
        ("WEBHOOK_ALERT_EMAIL", "ops@example.com"),
    ])
    .await;
    let down = Receiver::start(Behaviour::Ok).await;
    let id = notification.subscribe(&down, &["order.created"]).await;
    down.behave(Behaviour::Fail);
    let since = Utc::now();

    let first = notification.publish(&order_created(), Utc::now(), 1).await;
    let parked = eventually("the first delivery parked", || async {
        notification
            .deliveries(id, "parked")
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(parked["event_id"], first.to_string());
    assert_eq!(parked["attempts"], 3);
    assert_eq!(parked["last_status_code"], 500);

    // Failing for longer than the pause allows: the next failure pauses it.
    let endpoint = notification.endpoint(id).await;
    let failing_since: DateTime<Utc> = endpoint["failing_since"].as_str().unwrap().parse().unwrap();
    eventually("a second past the first failure", || async {
        (Utc::now() > failing_since + chrono::Duration::milliseconds(1100)).then_some(())
    })
    .await;
    let second = notification.publish(&order_created(), Utc::now(), 1).await;
    let paused = eventually("the endpoint paused", || async {
        let endpoint = notification.endpoint(id).await;
        (endpoint["status"] == "paused").then_some(endpoint)
    })
    .await;
    assert!(
        paused["paused_reason"].as_str().unwrap().contains("failed"),
        "{paused}"
    );
    assert_eq!(
        notification.deliveries(id, "pending").await.len(),
        1,
        "the second waits"
    );
    // Staff are told, by email, once.
    let pool = notification.service.as_ref().unwrap().pool.clone();
    let told: Vec<(String, String)> = sqlx::query_as(
        "SELECT subject, body FROM notifications WHERE kind = 'webhook_paused' AND recipient = 'ops@example.com'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].0.contains(&down.url) && told[0].1.contains("resume"),
        "{told:?}"
    );

    down.behave(Behaviour::Ok);
    let (status, replayed) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/replay"),
            Some(json!({ "since": since })),
        )
        .await;
    assert_eq!(
        (status, replayed["replayed"].as_u64()),
        (StatusCode::ACCEPTED, Some(1))
    );
    let (status, _) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/resume"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    down.has(2).await;
    assert_eq!(down.ids(), {
        let mut ids = vec![first.to_string(), second.to_string()];
        ids.sort();
        ids
    });

    // One delivered delivery replayed by hand arrives again under the same id, which
    // the receiver recognises as a copy.
    let delivered = notification.deliveries(id, "delivered").await;
    let one = delivered[0]["id"].as_str().unwrap();
    let (status, _) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/deliveries/{one}/replay"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually("the replayed copy arrives", || async {
        (down.inbox.lock().unwrap().copies == 1).then_some(())
    })
    .await;
    assert_eq!(down.messages().len(), 2);
    notification.stop().await;
}

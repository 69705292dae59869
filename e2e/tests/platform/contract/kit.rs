//! The contract drive of the routes every service gets from the kit: probes, metrics,
//! the document itself and the operator's routes.

use super::harness::{Contract, Who};
use cartflow_events::Service;
use reqwest::Method;
use serde_json::json;

/// Drives the routes every service gets from the kit.
pub(super) async fn drive(c: &mut Contract, service: Service) {
    use Who::{Anonymous as Anon, Operator};
    let (get, post) = (Method::GET, Method::POST);
    for path in ["/health", "/ready", "/metrics", "/openapi.json"] {
        c.expect(Anon, get.clone(), service, path, None, 200).await;
    }
    // `/ready` is limited per address: a flood meets 429 within its burst.
    let mut limited = false;
    for _ in 0..300 {
        if c.call(Anon, get.clone(), service, "/ready", None).await.0 == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "{service}: /ready never answered 429");

    let events = c
        .expect(Operator, get.clone(), service, "/admin/events", None, 200)
        .await;
    // A dry replay of the first logged event (of a service that logged one).
    let first = events["items"][0]["event_id"].as_str();
    if first.is_some() {
        let log = format!(
            "/admin/events?event_type={}&page_size=1",
            events["items"][0]["event_type"].as_str().unwrap()
        );
        c.expect(Operator, get.clone(), service, &log, None, 200)
            .await;
    }
    let replay = match first {
        Some(first) => json!({ "event_ids": [first], "dry_run": true }),
        None => json!({ "event_type": "order.created", "dry_run": true }),
    };
    let replay_path = "/admin/events/replay";
    let answer = c
        .expect(
            Operator,
            post.clone(),
            service,
            replay_path,
            Some(replay),
            200,
        )
        .await;
    if first.is_some() {
        assert_eq!(answer["matched"], 1, "{service}: {answer}");
    }
    c.expect(
        Operator,
        post.clone(),
        service,
        "/admin/events/replay",
        Some(json!({})),
        422,
    )
    .await;
    c.expect(Anon, get.clone(), service, "/admin/events", None, 401)
        .await;
    c.expect(Operator, get.clone(), service, "/admin/failures", None, 200)
        .await;
    c.walk_pages(Operator, service, "/admin/events").await;
    c.walk_pages(Operator, service, "/admin/failures").await;
    c.expect(
        Operator,
        get.clone(),
        service,
        "/admin/dead-letters",
        None,
        200,
    )
    .await;
    let dry = json!({ "dry_run": true });
    c.expect(
        Operator,
        post.clone(),
        service,
        "/admin/dead-letters/replay",
        Some(dry),
        200,
    )
    .await;
    let elsewhere = json!({ "subscription": "nobody.dead-letter", "dry_run": true });
    c.expect(
        Operator,
        post,
        service,
        "/admin/dead-letters/replay",
        Some(elsewhere),
        422,
    )
    .await;
}

//! Live push streams: each re-checks its caller's sign-in, and one caller holds at most
//! five at once.

use super::{OK, Who, call, delete_account, sign_up};
use crate::helpers::issuer::TestIssuer;
use crate::helpers::{assert_problem, eventually_within, spawn_app_signed_in};
use cartflow_events::Service;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// Reads `response` (a live stream) until the service ends it, failing after `limit`.
async fn ends_within(mut response: reqwest::Response, limit: Duration, what: &str) {
    tokio::time::timeout(limit, async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: the stream still runs after {limit:?}"));
}

/// A push stream re-checks its caller's sign-in: it ends when the token expires, and
/// within the re-check interval once the customer is deleted; a valid sign-in's
/// stream stays open across re-checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_stream_ends_when_its_token_expires_or_its_customer_is_deleted() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(
        &issuer,
        &[
            ("AUTH_CLOCK_SKEW_SECS", "0"),
            ("PUSH_STREAM_RECHECK_SECS", "1"),
        ],
    )
    .await;
    let stream_of = |id: Uuid, token: String| {
        app.http
            .get(format!("{}/push/{id}/stream", app.url(Service::EmailPush)))
            .bearer_auth(token)
            .send()
    };

    let short = Uuid::new_v4();
    let mut claims = TestIssuer::claims(&short.to_string());
    let expires = chrono::Utc::now().timestamp() + 5;
    claims["exp"] = json!(expires);
    let response = stream_of(short, TestIssuer::sign_customer(&claims))
        .await
        .unwrap();
    assert_eq!(response.status(), OK);
    ends_within(response, Duration::from_secs(15), "an expired token").await;
    assert!(
        chrono::Utc::now().timestamp() >= expires,
        "it lasted while the token did"
    );

    let gus = Uuid::new_v4();
    sign_up(&app, gus, "Gus", "gus@example.com").await;
    let mut response = stream_of(gus, TestIssuer::customer_token(gus))
        .await
        .unwrap();
    assert_eq!(response.status(), OK);
    let quiet = tokio::time::timeout(Duration::from_millis(2500), response.chunk()).await;
    assert!(quiet.is_err(), "still open after two re-checks: {quiet:?}");
    delete_account(&app, gus).await;
    ends_within(response, Duration::from_secs(30), "a deleted customer").await;
    app.stop().await;
}

/// One caller holds at most five live push streams at once; the sixth is a 429 until
/// one closes, and other callers are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_holds_at_most_five_push_streams_at_once() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    let ann = Uuid::new_v4();
    let path = format!("/push/{ann}/stream");
    let url = format!("{}{path}", app.url(Service::EmailPush));
    let open = || {
        app.http
            .get(&url)
            .bearer_auth(TestIssuer::customer_token(ann))
            .send()
    };
    let mut streams = Vec::new();
    for _ in 0..5 {
        let response = open().await.unwrap();
        assert_eq!(response.status(), OK);
        streams.push(response);
    }
    let sixth = open().await.unwrap();
    assert!(sixth.headers().contains_key("retry-after"));
    assert_problem(sixth, StatusCode::TOO_MANY_REQUESTS).await;
    let (status, _) = call(
        &app,
        Who::Staff,
        Method::GET,
        Service::EmailPush,
        &path,
        None,
    )
    .await;
    assert_eq!(status, OK, "staff watching Ann's inbox count as themselves");

    drop(streams.pop());
    eventually_within(
        Duration::from_secs(30),
        "the closed stream's place",
        || async { (open().await.unwrap().status() == OK).then_some(()) },
    )
    .await;
    app.stop().await;
}

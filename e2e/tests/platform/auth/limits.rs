//! Rate limits: a caller over its bucket gets 429 with `Retry-After` while others do
//! not, and made-up credentials share their address's bucket.

use super::{NOT_FOUND, OK, UNAUTHORIZED, Who, call};
use crate::helpers::issuer::{RSA_KID, TestIssuer, forger_key, sign_with};
use crate::helpers::{assert_problem, spawn_app_signed_in, spawn_app_with};
use cartflow_events::Service;
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_limit_a_caller_gets_429_with_retry_after_and_others_do_not() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_CALLER_PER_SEC", "1"),
        ("RATE_LIMIT_CALLER_BURST", "3"),
        ("RATE_LIMIT_IP_PER_SEC", "1"),
        ("RATE_LIMIT_IP_BURST", "8"),
    ])
    .await;
    let cart = format!("{}/cart", app.url(Service::Cart));
    let (busy, calm) = (Uuid::new_v4(), Uuid::new_v4());
    let get_as = |customer: Uuid| {
        app.http
            .get(&cart)
            .header("X-Customer-Id", customer.to_string())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            get_as(busy).await.unwrap().status(),
            NOT_FOUND,
            "no cart yet, but let in"
        );
    }
    // The burst is spent: the next call is refused, unless this machine stalled past a
    // refill (one token a second), so one more call is allowed to find the refusal.
    let mut limited = get_as(busy).await.unwrap();
    if limited.status() == NOT_FOUND {
        limited = get_as(busy).await.unwrap();
    }
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(
        get_as(calm).await.unwrap().status(),
        NOT_FOUND,
        "another caller is not limited"
    );

    // The address's bucket (8) holds every request from it, whoever sends them.
    let products = format!("{}/products", app.url(Service::Product));
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.http.get(&products).send().await.unwrap().status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Probes are outside the limits.
    let health = app
        .http
        .get(format!("{}/health", app.url(Service::Cart)))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), OK);
    app.stop().await;
}

/// The per-caller bucket belongs to a verified caller: made-up credentials (garbage or
/// forged bearer tokens, `X-Customer-Id`, which means nothing in OIDC mode) all share
/// their address's bucket, however often they change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_made_up_credentials_from_one_address_does_not_escape_its_limit() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(
        &issuer,
        &[
            ("RATE_LIMIT_CALLER_PER_SEC", "1"),
            ("RATE_LIMIT_CALLER_BURST", "3"),
            ("RATE_LIMIT_IP_PER_SEC", "0"),
        ],
    )
    .await;
    let cart = format!("{}/cart", app.url(Service::Cart));
    let mut statuses = Vec::new();
    for i in 0..10 {
        let someone = Uuid::new_v4();
        let request = app
            .http
            .get(&cart)
            .header("X-Customer-Id", someone.to_string());
        let request = match i % 3 {
            0 => request.bearer_auth(format!("garbage.{someone}.token")),
            1 => request.bearer_auth(sign_with(
                &TestIssuer::claims(&someone.to_string()),
                Algorithm::RS256,
                RSA_KID,
                &forger_key(),
            )),
            _ => request,
        };
        statuses.push(request.send().await.unwrap().status());
    }
    let refused = statuses.iter().filter(|s| **s == UNAUTHORIZED).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused + limited, statuses.len(), "{statuses:?}");
    assert!(
        (3..=4).contains(&refused),
        "one bucket of 3 for the address: {statuses:?}"
    );
    // A verified customer from the same address has a bucket of their own.
    let (status, _) = call(
        &app,
        Who::Customer(Uuid::new_v4()),
        Method::GET,
        Service::Cart,
        "/cart",
        None,
    )
    .await;
    assert_eq!(status, NOT_FOUND, "no cart yet, but let in");
    app.stop().await;
}

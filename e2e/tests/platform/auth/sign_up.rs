//! Signing up in OIDC mode: a customer's record takes the email their token verified.

use super::{OK, Who, call};
use crate::helpers::issuer::TestIssuer;
use crate::helpers::{assert_problem, spawn_app_signed_in};
use cartflow_events::Service;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

/// In OIDC mode a customer's record carries the address their token verified: nobody
/// registers (or switches to) someone else's, and the 409 of a taken address does not
/// say which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_takes_the_tokens_verified_email_only_and_a_conflict_does_not_echo_it() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    let ann = Uuid::new_v4();
    let body = |email: &str| Some(json!({ "name": "Ann", "email": email }));
    let customers = "/customers";
    let post = |who: Who, email: &str| {
        call(
            &app,
            who,
            Method::POST,
            Service::Customer,
            customers,
            body(email),
        )
    };
    // Someone else's address with Ann's verified token: refused, and not echoed.
    let victim = "victim@example.com";
    let (status, problem) = post(Who::Verified(ann, "ann@example.com"), victim).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(!problem.to_string().contains(victim), "{problem}");
    // A token without an email, or with one not verified: refused.
    let (status, _) = post(Who::Customer(ann), "ann@example.com").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut unverified = TestIssuer::claims(&ann.to_string());
    unverified["email"] = json!("ann@example.com");
    unverified["email_verified"] = json!(false);
    let response = app
        .http
        .post(format!("{}/customers", app.url(Service::Customer)))
        .bearer_auth(TestIssuer::sign_customer(&unverified))
        .json(&json!({ "name": "Ann", "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN).await;
    let count = "SELECT count(*) FROM customers";
    assert_eq!(app.count(Service::Customer, count).await, 0);

    // Her own address (whatever its case) is hers.
    let ann_signed_in = Who::Verified(ann, "Ann@Example.com");
    let (status, created) = post(ann_signed_in, "ann@example.com").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Nor may she switch to someone else's address later.
    let own = format!("/customers/{ann}");
    let put = |email: &str| {
        call(
            &app,
            ann_signed_in,
            Method::PUT,
            Service::Customer,
            &own,
            body(email),
        )
    };
    assert_eq!(put(victim).await.0, StatusCode::FORBIDDEN);
    assert_eq!(put("ann@example.com").await.0, OK);

    // A taken address: 409, without naming it.
    let taken = "taken@example.com";
    app.create_customer("Tess", taken).await;
    let (status, problem) = post(Who::Verified(Uuid::new_v4(), taken), taken).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        !problem.to_string().contains(taken),
        "the address is echoed: {problem}"
    );
    assert_eq!(app.count(Service::Customer, count).await, 2);
    app.stop().await;
}

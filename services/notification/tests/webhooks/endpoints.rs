//! Managing endpoints: only staff subscribe, only safe URLs that answer the
//! verification are taken, and a rotated secret signs beside the new one until the
//! overlap ends.

use super::{Notification, order_created};
use axum::Router;
use axum::http::StatusCode;
use cartflow_testkit::eventually_within;
use cartflow_testkit::webhook_receiver::{Behaviour, Receiver};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_staff_subscribe_and_only_safe_urls_that_answer_the_verification() {
    let notification = Notification::start(&[]).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    let body = json!({ "url": receiver.url, "events": ["order.created"] });
    let post = reqwest::Method::POST;

    let (status, _) = notification
        .call(&[], post.clone(), "/webhooks", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous");
    let customer = Uuid::new_v4().to_string();
    let as_customer = [("x-customer-id", customer.as_str())];
    let (status, _) = notification
        .call(&as_customer, post.clone(), "/webhooks", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a customer");
    let (status, _) = notification
        .call(&as_customer, reqwest::Method::GET, "/webhooks", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a customer lists");

    for (url, why) in [
        ("http://hooks.example.com/x", "https"),
        ("https://10.0.0.7/x", "private"),
        ("https://192.168.1.10/x", "private"),
        ("https://169.254.169.254/computeMetadata/v1/", "metadata"),
        ("https://[::ffff:169.254.169.254]/", "metadata"),
        ("https://metadata.google.internal/", "metadata"),
        ("https://[fd00::1]/x", "private"),
        ("https://[fe80::1]/x", "link-local"),
    ] {
        let refusal = notification.refused(url, &["order.created"]).await;
        assert!(refusal.contains(why), "{url}: {refusal}");
    }
    let refusal = notification.refused(&receiver.url, &["order.eaten"]).await;
    assert!(refusal.contains("'order.eaten' is not one of"), "{refusal}");
    // A URL that answers 200 to anything but does not echo the challenge is not
    // subscribed, nor is one where nobody listens.
    let blind = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = Router::new().route("/", axum::routing::post(|| async { StatusCode::OK }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    };
    let nobody = format!("http://127.0.0.1:{}/", cartflow_testkit::free_port());
    for url in [blind, nobody] {
        let refusal = notification.refused(&url, &["order.created"]).await;
        assert!(refusal.contains("verification"), "{url}: {refusal}");
    }
    let (_, listed) = notification
        .staff(reqwest::Method::GET, "/webhooks", None)
        .await;
    assert_eq!(
        listed,
        json!({ "items": [], "next_page_token": null }),
        "nothing refused was stored"
    );

    // Staff, a loopback receiver (allowed with the emulator) that echoes the challenge.
    let (status, created) = notification
        .staff(
            post.clone(),
            "/webhooks",
            Some(json!({ "url": receiver.url, "events": ["order.created", "order.created", "product.changed"], "description": "ERP" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(
        created["events"],
        json!(["order.created", "product.changed"])
    );
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let shown = notification.endpoint(id).await;
    assert!(
        !shown.to_string().contains(secret),
        "the secret is shown only once"
    );
    assert_eq!(shown["status"], "active");
    let (_, listed) = notification
        .staff(reqwest::Method::GET, "/webhooks", None)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["next_page_token"], Value::Null);

    let (status, paused) = notification
        .staff(post.clone(), &format!("/webhooks/{id}/pause"), None)
        .await;
    assert_eq!(
        (status, paused["status"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    let (status, resumed) = notification
        .staff(post.clone(), &format!("/webhooks/{id}/resume"), None)
        .await;
    assert_eq!(
        (status, resumed["status"].as_str()),
        (StatusCode::OK, Some("active"))
    );
    let (status, _) = notification
        .staff(reqwest::Method::DELETE, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = notification
        .staff(reqwest::Method::GET, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    notification.stop().await;
}

/// After a rotation each call carries two signatures, the new secret's and the old
/// one's, until the overlap ends; then only the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends() {
    let notification = Notification::start(&[("WEBHOOK_SECRET_OVERLAP_SECS", "8")]).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    let id = notification.subscribe(&receiver, &["order.created"]).await;
    let (status, rotated) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    receiver.knows(rotated["secret"].as_str().unwrap());
    let until: DateTime<Utc> = rotated["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    notification.publish(&order_created(), Utc::now(), 1).await;
    let during = receiver.has(1).await;
    assert!(
        Utc::now() < until,
        "the test was too slow to see the overlap"
    );
    let mut signers = during[0].signatures.clone();
    signers.sort();
    assert_eq!(
        signers,
        vec![Some(0), Some(1)],
        "the old secret's and the new one's"
    );

    eventually_within(Duration::from_secs(20), "the overlap over", || async {
        (Utc::now() > until).then_some(())
    })
    .await;
    notification.publish(&order_created(), Utc::now(), 1).await;
    let after = receiver.has(2).await;
    assert_eq!(after[1].signatures, vec![Some(1)], "the new secret's only");
    notification.stop().await;
}

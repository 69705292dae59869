//! The contract drive of what a checkout leaves behind: notifications, payments,
//! emails and push.

use super::harness::{Contract, Who};
use crate::helpers::eventually;
use cartflow_e2e::TestApp;
use cartflow_events::Service;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// Ann's notifications, payment, emails and push inbox and stream; Bob's 404s and the
/// staff-only routes.
pub(super) async fn drive(c: &mut Contract, app: &TestApp, ann: Uuid, bob: Uuid) {
    let (get, post) = (Method::GET, Method::POST);
    use Service::*;
    use Who::{Customer as As, Staff};

    let notes = eventually("Ann's notifications", || async {
        let url = format!("{}/notifications", app.url(Notification));
        let page: Value = app
            .as_customer(app.http.get(url), ann)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (page["items"].as_array()?.len() >= 4).then_some(page)
    })
    .await;
    c.expect(
        As(ann),
        get.clone(),
        Notification,
        "/notifications",
        None,
        200,
    )
    .await;
    let note = format!(
        "/notifications/{}",
        notes["items"][0]["id"].as_str().unwrap()
    );
    c.expect(As(ann), get.clone(), Notification, &note, None, 200)
        .await;
    c.expect(As(bob), get.clone(), Notification, &note, None, 404)
        .await;
    let manual =
        |to: Uuid| Some(json!({ "customer_id": to, "subject": "Hello", "body": "A note." }));
    c.expect(
        Staff,
        post.clone(),
        Notification,
        "/notifications",
        manual(ann),
        201,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Notification,
        "/notifications",
        manual(Uuid::new_v4()),
        404,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Notification,
        "/notifications",
        manual(ann),
        403,
    )
    .await;

    let payments = c
        .expect(As(ann), get.clone(), Payment, "/payments", None, 200)
        .await;
    let payment = format!(
        "/payments/{}",
        payments["items"][0]["id"].as_str().expect("Ann's payment")
    );
    c.expect(As(ann), get.clone(), Payment, &payment, None, 200)
        .await;
    c.expect(As(bob), get.clone(), Payment, &payment, None, 404)
        .await;
    c.expect(
        Staff,
        get.clone(),
        Payment,
        "/payments/reconciliation",
        None,
        200,
    )
    .await;
    c.expect(
        As(ann),
        get.clone(),
        Payment,
        "/payments/reconciliation",
        None,
        403,
    )
    .await;

    c.expect(As(ann), get.clone(), EmailPush, "/emails", None, 200)
        .await;
    let inbox = format!("/push/{ann}");
    c.expect(As(ann), get.clone(), EmailPush, &inbox, None, 200)
        .await;
    c.expect(As(bob), get.clone(), EmailPush, &inbox, None, 404)
        .await;
    let stream = format!("/push/{ann}/stream");
    c.expect(As(ann), get.clone(), EmailPush, &stream, None, 200)
        .await;
    c.expect(As(bob), get.clone(), EmailPush, &stream, None, 404)
        .await;
}

//! Every saga outcome emailed and pushed once even when every message comes twice, and
//! a push received live within a second of the order.

use super::by_kind;
use crate::helpers::{eventually, spawn_app, spawn_app_duplicating};
use cart_service::domain::CartStatus;
use cartflow_events::{Channel, Service};
use notification_service::domain::{Kind, Status};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_is_emailed_and_pushed_once_even_when_every_message_comes_twice() {
    let app = spawn_app_duplicating(&[]).await;
    app.create_product("KB-1", 1250, 10).await;
    app.create_product("LAMP-1", 500, 1).await;
    let customer = app.create_customer("Ann Lee", "ann@example.com").await;
    app.wait_for_contact(customer, "ann@example.com").await;

    let cancelled = app.checkout(customer, "KB-1", 2).await;
    app.add(customer, "LAMP-1", 3).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.settled_cart(customer).await.status,
        CartStatus::StockUnavailable
    );
    app.remove_item(customer, "LAMP-1").await;
    assert_eq!(
        app.cancel(&cancelled, Some(json!({ "reason": "too slow" })))
            .await
            .status(),
        StatusCode::OK
    );
    let fulfilled = app.checkout(customer, "KB-1", 1).await;
    let status_url = format!("{}/orders/{fulfilled}/status", app.url(Service::Order));
    for status in ["shipped", "delivered"] {
        let response = app
            .staff
            .put(&status_url)
            .json(&json!({ "status": status }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    // Two confirmations and two receipts, one of everything else (the cancelled order's
    // refund too), on both channels, all sent, and every duplicate delivery already
    // seen and skipped (so none can add a copy later).
    let expected: HashMap<(Kind, Channel), usize> = [
        (Kind::OrderConfirmed, 2),
        (Kind::PaymentReceipt, 2),
        (Kind::PaymentRefunded, 1),
        (Kind::StockRejected, 1),
        (Kind::OrderCancelled, 1),
        (Kind::OrderShipped, 1),
        (Kind::OrderDelivered, 1),
    ]
    .into_iter()
    .flat_map(|(kind, n)| [Channel::Email, Channel::Push].map(|c| ((kind, c), n)))
    .collect();
    eventually(
        "every notification sent and every duplicate seen",
        || async {
            let kinds = by_kind(&app, customer).await;
            let settled = kinds.len() == expected.len()
                && kinds
                    .iter()
                    .all(|(k, statuses)| expected.get(k) == Some(&statuses.len()))
                && kinds.values().flatten().all(|s| *s == Status::Sent);
            let unduplicated =
                "SELECT count(*) FROM processed_messages WHERE duplicate_deliveries = 0";
            let pending = app.count(Service::Notification, unduplicated).await
                + app.count(Service::EmailPush, unduplicated).await;
            (settled && pending == 0 && app.mails().len() == 9).then_some(())
        },
    )
    .await;

    let mails = app.mails();
    assert!(
        mails.iter().all(|m| m.to == ["ann@example.com"]),
        "{mails:?}"
    );
    let mut subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(
        subjects.len(),
        9,
        "nine distinct emails, no copies: {subjects:?}"
    );
    let confirmation = mails
        .iter()
        .find(|m| m.subject == format!("Order {cancelled} confirmed"))
        .unwrap();
    assert!(
        confirmation.body.contains("Hi Ann Lee,"),
        "{}",
        confirmation.body
    );
    assert!(
        confirmation.body.contains("2 x KB-1 @ $12.50 = $25.00"),
        "{}",
        confirmation.body
    );
    assert!(confirmation.body.contains("Total: $25.00"));
    assert!(
        confirmation
            .body
            .contains("Ships to: Jane Doe, 1 Market Street, Springfield 12345, US"),
        "{}",
        confirmation.body
    );
    let receipt = mails
        .iter()
        .find(|m| m.subject == format!("Receipt for order {cancelled}"))
        .expect("the receipt");
    assert!(
        receipt
            .body
            .contains("We charged $25.00 to visa ending 4242"),
        "{}",
        receipt.body
    );
    let rejection = mails
        .iter()
        .find(|m| m.subject.contains("could not place"))
        .unwrap();
    assert!(
        rejection
            .body
            .contains("LAMP-1: you asked for 3, we have 1"),
        "{}",
        rejection.body
    );
    let cancellation = mails
        .iter()
        .find(|m| m.subject == format!("Order {cancelled} cancelled"))
        .unwrap();
    assert!(cancellation.body.contains("too slow"));
    assert!(
        mails
            .iter()
            .any(|m| m.subject == format!("Order {fulfilled} shipped"))
    );
    assert!(
        mails
            .iter()
            .any(|m| m.subject == format!("Order {fulfilled} delivered"))
    );

    let inbox = app
        .get_json(Service::EmailPush, &format!("/push/{customer}"))
        .await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 9);
    let sent = app
        .get_json(Service::EmailPush, "/emails?to=ann@example.com")
        .await;
    assert_eq!(sent["items"].as_array().unwrap().len(), 9);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_stream_receives_a_push_live_within_a_second_of_the_order() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = app.create_customer("Di", "di@example.com").await;
    app.wait_for_contact(customer, "di@example.com").await;

    let mut response = app
        .http
        .get(format!(
            "{}/push/{customer}/stream",
            app.url(Service::EmailPush)
        ))
        .header("X-Customer-Id", customer.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");

    // The stream is read beside the checkout, so a push is timed when it arrives, not
    // when the checkout's own waiting is over.
    let reader = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut text = String::new();
        loop {
            if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
                let push: Value = serde_json::from_str(data).unwrap();
                return (text, push, chrono::Utc::now(), response);
            }
            let chunk = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .expect("a push on the stream within 10 s")
                .unwrap()
                .expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    });
    let order_id = app.checkout(customer, "KB-1", 1).await;
    let ordered_at = app.order(order_id.parse().unwrap()).await.created_at;
    let (text, push, arrived, response) = reader.await.unwrap();
    assert!(text.contains("event: push"), "{text}");
    assert_eq!(push["customer_id"], customer.to_string());
    assert!(push["title"].as_str().unwrap().contains(&order_id));
    let latency = arrived - ordered_at;
    assert!(
        latency < chrono::Duration::seconds(1),
        "push arrived {latency} after the order"
    );
    drop(response);
    app.stop().await;
}

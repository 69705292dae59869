//! Every saga outcome reaches the customer by email and by push, exactly once, through
//! real SMTP and the live push stream.

use crate::helpers::{TestApp, count, eventually, spawn_app, spawn_app_duplicating};
use cart_service::domain::CartStatus;
use cartflow_events::{Channel, Service};
use notification_service::domain::{Kind, Status};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// (kind, channel) → status of the customer's notifications.
async fn by_kind(app: &TestApp, customer: Uuid) -> HashMap<(Kind, Channel), Vec<Status>> {
    let mut kinds: HashMap<(Kind, Channel), Vec<Status>> = HashMap::new();
    for n in app.notifications(customer).await {
        kinds.entry((n.kind, n.channel)).or_default().push(n.status);
    }
    kinds
}

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
async fn a_changed_email_address_is_used_for_the_next_notification() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = app.create_customer("Bo", "bo@old.example").await;
    app.wait_for_contact(customer, "bo@old.example").await;
    let first = app.checkout(customer, "KB-1", 1).await;
    eventually("the first confirmation and receipt", || async {
        (app.mails().len() == 2).then_some(())
    })
    .await;

    let response = app
        .staff
        .put(format!(
            "{}/customers/{customer}",
            app.url(Service::Customer)
        ))
        .json(&json!({ "name": "Bo", "email": "Bo@New.Example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    app.wait_for_contact(customer, "bo@new.example").await;
    let second = app.checkout(customer, "KB-1", 1).await;
    eventually("the second confirmation and receipt", || async {
        (app.mails().len() == 4).then_some(())
    })
    .await;

    let mails = app.mails();
    let to = |order: &str| {
        mails
            .iter()
            .find(|m| m.subject.contains(order))
            .unwrap()
            .to
            .clone()
    };
    assert_eq!(to(&first), ["bo@old.example"]);
    assert_eq!(to(&second), ["bo@new.example"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_down_email_fails_after_its_retries_and_flows_again_when_it_is_back() {
    let mut app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = app.create_customer("Cy", "cy@example.com").await;
    app.wait_for_contact(customer, "cy@example.com").await;

    app.smtp_down().await;
    let lost = app.checkout(customer, "KB-1", 1).await;
    // Both its emails (the confirmation and the receipt) fail after their retries.
    let failed = eventually("the emails to fail", || async {
        let notes = app.notifications(customer).await;
        let failed: Vec<_> = notes
            .into_iter()
            .filter(|n| n.channel == Channel::Email && n.status == Status::Failed)
            .collect();
        (failed.len() == 2).then_some(())?;
        failed.into_iter().find(|n| n.kind == Kind::OrderConfirmed)
    })
    .await;
    assert_eq!(
        failed.attempts, 3,
        "SMTP_MAX_ATTEMPTS in the tests: {failed:?}"
    );
    let error = failed.last_error.as_deref().unwrap();
    assert!(error.contains("SMTP"), "{error}");
    assert!(failed.subject.contains(&lost));
    // The push did not wait for the email.
    let kinds = by_kind(&app, customer).await;
    assert_eq!(
        kinds[&(Kind::OrderConfirmed, Channel::Push)],
        [Status::Sent]
    );

    app.smtp_up().await;
    let delivered = app.checkout(customer, "KB-1", 1).await;
    eventually("the next confirmation and receipt", || async {
        (app.mails().len() == 2).then_some(())
    })
    .await;
    assert!(app.mails().iter().all(|m| m.subject.contains(&delivered)));
    let kinds = eventually("the next notification settled", || async {
        let kinds = by_kind(&app, customer).await;
        (kinds[&(Kind::OrderConfirmed, Channel::Email)].contains(&Status::Sent)).then_some(kinds)
    })
    .await;
    let mut email_statuses: Vec<&str> = kinds[&(Kind::OrderConfirmed, Channel::Email)]
        .iter()
        .map(|s| s.as_str())
        .collect();
    email_statuses.sort();
    assert_eq!(email_statuses, ["failed", "sent"]);
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

    let order_id = app.checkout(customer, "KB-1", 1).await;
    let ordered_at = app.order(order_id.parse().unwrap()).await.created_at;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    let push: Value = loop {
        if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
            break serde_json::from_str(data).unwrap();
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("a push on the stream within 10 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    };
    let arrived = chrono::Utc::now();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_reaches_the_stock_manager_once_per_crossing() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 5).await;
    let threshold = app
        .staff
        .put(format!("{}/inventory/KB-1", app.url(Service::Inventory)))
        .json(&json!({ "quantity": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(threshold.status(), StatusCode::OK);
    sqlx::query("UPDATE stock_items SET low_stock_threshold = 2 WHERE sku = 'KB-1'")
        .execute(app.pool(Service::Inventory))
        .await
        .unwrap();

    // 5 → 3 (above), 3 → 2 (crossing), 2 → 1 (already below): one alert.
    for quantity in [2, 1, 1] {
        app.checkout(Uuid::new_v4(), "KB-1", quantity).await;
    }
    // A delivery lifts it above the threshold; selling down crosses again: a second.
    let restock = app
        .staff
        .put(format!("{}/inventory/KB-1", app.url(Service::Inventory)))
        .json(&json!({ "quantity": 10 }))
        .send()
        .await
        .unwrap();
    assert_eq!(restock.status(), StatusCode::OK);
    app.checkout(Uuid::new_v4(), "KB-1", 8).await;

    let alerts = "SELECT count(*) FROM outbox WHERE topic = 'inventory.low-stock'";
    assert_eq!(app.count(Service::Inventory, alerts).await, 2);
    eventually("both alerts emailed", || async {
        let to_manager = app
            .mails()
            .into_iter()
            .filter(|m| m.to == ["stock-manager@cartflow.local"])
            .count();
        (to_manager == 2).then_some(())
    })
    .await;
    let manager_mail = app
        .mails()
        .into_iter()
        .find(|m| m.to == ["stock-manager@cartflow.local"])
        .unwrap();
    assert_eq!(manager_mail.subject, "Low stock: KB-1");
    assert!(
        manager_mail
            .body
            .contains("down to 2 available (threshold 2)"),
        "{}",
        manager_mail.body
    );
    let notes = count(
        app.pool(Service::Notification),
        "SELECT count(*) FROM notifications WHERE kind = 'low_stock'",
    )
    .await;
    assert_eq!(notes, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_validated_and_emails_unique() {
    let app = spawn_app().await;
    let customers = format!("{}/customers", app.url(Service::Customer));
    let id = app.create_customer("Eve", "eve@example.com").await;
    let refused = [
        (
            json!({ "name": "Eve 2", "email": "EVE@example.com" }),
            StatusCode::CONFLICT,
        ),
        (
            json!({ "id": id, "name": "Same id", "email": "other@example.com" }),
            StatusCode::CONFLICT,
        ),
        (
            json!({ "name": "No Email", "email": "not-an-email" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "name": " ", "email": "blank@example.com" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "email": "nameless@example.com" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, expected) in refused {
        let response = app.staff.post(&customers).json(&body).send().await.unwrap();
        crate::helpers::assert_problem(response, expected).await;
    }
    let listed = app.get_json(Service::Customer, "/customers").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let deleted = app
        .staff
        .delete(format!("{customers}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app
        .staff
        .get(format!("{customers}/{id}"))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(gone, StatusCode::NOT_FOUND).await;
    // Notification forgets the details, whatever order the events arrived in.
    eventually("the contact to be forgotten", || async {
        let deleted: Option<bool> =
            sqlx::query_scalar("SELECT deleted FROM contacts WHERE customer_id = $1")
                .bind(id)
                .fetch_optional(app.pool(Service::Notification))
                .await
                .unwrap();
        (deleted == Some(true)).then_some(())
    })
    .await;
    app.stop().await;
}

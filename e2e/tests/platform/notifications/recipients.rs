//! Who is told, and where: a changed email address used next, email failing while SMTP
//! is down and flowing once it is back, low stock to the stock manager once per
//! crossing, and customers validated with unique emails.

use super::by_kind;
use crate::helpers::{count, eventually, spawn_app};
use cartflow_events::{Channel, Service};
use notification_service::domain::{Kind, Status};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

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
    // The push did not wait for the email: its result went with the first failed
    // attempt.
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
    // The sent email's result settled the push beside it too.
    assert_eq!(
        kinds[&(Kind::OrderConfirmed, Channel::Push)],
        [Status::Sent, Status::Sent]
    );
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

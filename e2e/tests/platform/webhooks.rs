//! Outgoing webhooks through the whole platform: a partner subscribed to every webhook
//! event receives each one the saga produces exactly once after deduplicating by
//! `webhook-id`, every signature verified on its own, while every message is published
//! twice (`OUTBOX_PUBLISH_COPIES=2`) and notification, running as its own process, is
//! killed with SIGKILL in the middle of a burst of checkouts and started again. And the
//! console's webhooks page, in a real browser.

use crate::burst::{shop_paying, shoppers};
use crate::crash::{back_in_process, sigkill, stand_in};
use crate::helpers::browser::{Browser, start_console};
use crate::helpers::{TestApp, eventually_within, spawn_app_duplicating};
use cart_service::domain::CartStatus;
use cartflow_events::Service;
use cartflow_testkit::webhook_receiver::{Behaviour, Receiver};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SHOPPERS: usize = 24;

/// Subscribes `partner` as staff (`subscription` without its url); it learns the secret.
async fn subscribe(app: &TestApp, partner: &Receiver, mut subscription: serde_json::Value) {
    subscription["url"] = partner.url.clone().into();
    let created = app
        .staff
        .post(format!("{}/webhooks", app.url(Service::Notification)))
        .json(&subscription)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: serde_json::Value = created.json().await.unwrap();
    partner.knows(created["secret"].as_str().unwrap());
}
const STOCK: i32 = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_a_partner_once_through_duplicates_and_a_sigkill_of_notification() {
    let mut app = spawn_app_duplicating(&[
        ("WEBHOOK_POLL_MS", "50"),
        ("WEBHOOK_TIMEOUT_MS", "2000"),
        ("WEBHOOK_RETRY_BASE_MS", "100"),
        ("WEBHOOK_RETRY_MAX_MS", "1000"),
    ])
    .await;
    let partner = Receiver::start(Behaviour::Ok).await;
    let every = json!({ "events": cartflow_api::webhook::EVENT_TYPES });
    subscribe(&app, &partner, every).await;

    app.create_product("WH-1", 1000, STOCK).await;
    let customers = shoppers(&app, SHOPPERS).await;

    // Notification leaves the in-process platform and runs as its own process.
    app.platform_mut()
        .stop_service(Service::Notification)
        .await
        .unwrap();
    let mut process = stand_in(&app, Service::Notification).await;
    let accepted = AtomicUsize::new(0);
    let burst = join_all(
        customers
            .iter()
            .map(|&c| shop_paying(&app, c, "WH-1", "pm_card_visa", &accepted)),
    );
    let crash = async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while accepted.load(Ordering::SeqCst) < SHOPPERS / 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sigkill(&mut process).await;
        stand_in(&app, Service::Notification).await
    };
    let (_, restarted) = tokio::join!(burst, crash);
    process = restarted;
    let carts = app.settled_carts(&customers, Duration::from_secs(90)).await;

    // Some orders cancelled (refunded), some shipped and delivered.
    let orders: Vec<String> = carts
        .iter()
        .filter(|c| c.status == CartStatus::Converted)
        .filter_map(|c| c.order_id.map(|id| id.to_string()))
        .collect();
    assert!(orders.len() >= 4, "{} orders", orders.len());
    for order in &orders[..2] {
        assert_eq!(app.cancel(order, None).await.status(), StatusCode::OK);
    }
    for order in &orders[2..4] {
        for status in ["shipped", "delivered"] {
            let url = format!("{}/orders/{order}/status", app.url(Service::Order));
            let response = app
                .staff
                .put(&url)
                .json(&json!({ "status": status }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    }

    // The refunds follow the cancellations (after the captures, which may still be
    // out): wait for both before reading what the producers wrote.
    eventually_within(Duration::from_secs(60), "the two refunds", || async {
        let refunds = "SELECT count(*) FROM outbox WHERE topic = 'payment.refunded'";
        (app.count(Service::Payment, refunds).await >= 2).then_some(())
    })
    .await;

    // What the partner must get: every event of those types the producers wrote.
    let mut expected: Vec<String> = Vec::new();
    for service in [
        Service::Order,
        Service::Payment,
        Service::Inventory,
        Service::Product,
    ] {
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT event_id FROM outbox WHERE topic = ANY($1)")
                .bind(cartflow_api::webhook::EVENT_TYPES.to_vec())
                .fetch_all(app.pool(service))
                .await
                .unwrap();
        expected.extend(ids.iter().map(uuid::Uuid::to_string));
    }
    expected.sort();
    eventually_within(
        Duration::from_secs(90),
        "the partner to have every event",
        || async { (partner.ids() == expected).then_some(()) },
    )
    .await;
    let messages = partner.messages();
    let mut types: Vec<String> = messages
        .iter()
        .map(|m| m.body["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    types.dedup();
    let mut all: Vec<String> = cartflow_api::webhook::EVENT_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    all.sort();
    assert_eq!(types, all, "every type came");
    let (forged, copies, calls) = {
        let inbox = partner.inbox.lock().unwrap();
        (inbox.forged, inbox.copies, inbox.calls)
    };
    assert_eq!(forged, 0, "every signature verified");
    eprintln!(
        "webhooks: {} events, {copies} copies skipped by the partner, {calls} calls",
        expected.len()
    );

    // Back in-process, so the platform stops as usual.
    back_in_process(&mut app, process, Service::Notification).await;
    app.stop().await;
}

/// The console's webhooks page: the endpoint with its health, its deliveries and their
/// attempts, and a delivery replayed from the page reaching the partner again under the
/// same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_endpoints_and_deliveries_and_replays_one() {
    let app = crate::helpers::spawn_app_with(&[("WEBHOOK_POLL_MS", "50")]).await;
    let partner = Receiver::start(Behaviour::Ok).await;
    let catalog = json!({ "events": ["product.changed"], "description": "catalog feed" });
    subscribe(&app, &partner, catalog).await;
    app.create_product("WH-2", 900, 3).await;
    let delivered = partner.has(1).await;

    let console = start_console(&app).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/webhooks", console.url)).await;
    let shown = [
        (
            "tr[data-endpoint] td",
            "the endpoint's url",
            partner.url.as_str(),
        ),
        ("tr[data-endpoint] td", "its description", "catalog feed"),
        ("tr[data-endpoint] .endpoint-status", "it active", "active"),
    ];
    for (css, what, expected) in shown {
        browser.wait_text(css, what, |t| t == expected).await;
    }
    browser.click("tr[data-endpoint] button").await;
    let shown = [
        (
            "tr[data-delivery] .delivery-status",
            "the delivery delivered",
            "delivered",
        ),
        (
            "tr[data-delivery] td.mono",
            "its event id",
            delivered[0].id.as_str(),
        ),
    ];
    for (css, what, expected) in shown {
        browser.wait_text(css, what, |t| t == expected).await;
    }
    browser.click("tr[data-delivery] button").await;
    browser
        .wait_text("#attempts td", "the attempt's status code", |t| t == "204")
        .await;
    browser.screenshot("webhooks").await;
    browser.click("tr[data-delivery] button.replay").await;
    browser
        .wait_text("#status", "the replay confirmed", |t| {
            t.contains("queued again")
        })
        .await;
    eventually_within(Duration::from_secs(30), "the replayed copy", || async {
        (partner.inbox.lock().unwrap().copies == 1).then_some(())
    })
    .await;
    assert_eq!(
        partner.messages().len(),
        1,
        "the same id: a copy, not a new event"
    );
    browser.close().await;
    app.stop().await;
}

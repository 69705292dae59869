//! Poison in a burst: while 40 shoppers check out, inventory's subscription also gets
//! messages that can never be processed (a body that is not JSON, an unknown event
//! version, no envelope at all), and two checkouts hit a bug in inventory's database
//! (a trigger that fails every reservation of one product). All good work completes;
//! the poison and the two bugged requests end in the dead-letter topic after five
//! attempts, each attempt in the failure log. After the fix, one is replayed from the
//! dead letters over HTTP and the other from the event log with the CLI: each
//! completes once, and the books balance.

use crate::helpers::{TestApp, cartflow, eventually_within, spawn_app_with};
use cart_service::domain::CartStatus;
use cartflow_events::{OrderRequested, Service};
use cartflow_testkit::envelope_for;
use futures::future::join_all;
use google_cloud_pubsub::model::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

const TOKEN: &str = "poison-admin-token-0123456789";
const SHOPPERS: usize = 40;
const GOOD_STOCK: i32 = 30;
const BUGGED_STOCK: i32 = 10;
const PARKED: &str = "inventory.order-requested.dead-letter";

/// Publishes raw messages to the order-requested topic, as a broken producer would.
async fn publish_poison(app: &TestApp) -> usize {
    let envelope = envelope_for::<OrderRequested>(Uuid::new_v4());
    let mut unknown_version = envelope.to_attributes();
    unknown_version.insert("event_version".into(), "99".into());
    let not_json = envelope_for::<OrderRequested>(Uuid::new_v4()).to_attributes();
    let poison: [(HashMap<String, String>, &[u8]); 3] = [
        (not_json, b"{ this is not json"),
        (unknown_version, b"{}"),
        (HashMap::new(), b"no envelope at all"),
    ];
    let messages = poison
        .iter()
        .map(|(attributes, data)| {
            Message::new()
                .set_data(data.to_vec())
                .set_attributes(attributes.clone())
        })
        .collect();
    app.publish_raw("order-requested", messages).await;
    poison.len()
}

async fn admin_post(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app
        .http
        .post(format!("{}{path}", app.url(Service::Inventory)))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn dead_letters(app: &TestApp) -> Vec<Value> {
    let response = app
        .http
        .get(format!(
            "{}/admin/dead-letters",
            app.url(Service::Inventory)
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["subscription"] == PARKED)
        .flat_map(|s| s["messages"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_in_a_burst_is_parked_and_after_the_fix_replayed_once() {
    // A long saga deadline: the re-sent requests of the watchdog must not finish the
    // bugged checkouts behind the replay's back.
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN), ("CHECKOUT_DEADLINE_MS", "600000")]).await;
    app.create_product("GOOD-1", 1000, GOOD_STOCK).await;
    app.create_product("BUG-1", 2000, BUGGED_STOCK).await;
    let inventory = app.pool(Service::Inventory);
    app.inject_reservation_bug("BUG-1").await;

    let customers: Vec<Uuid> = join_all((0..SHOPPERS + 2).map(|n| {
        let app = &app;
        async move {
            let email = format!("shopper{n}@example.com");
            let id = app.create_customer(&format!("Shopper {n}"), &email).await;
            app.wait_for_contact(id, &email).await;
            id
        }
    }))
    .await;
    let (good, bugged) = customers.split_at(SHOPPERS);
    // Phase times, shown if the test fails (it waits on the emulator's schedules).
    let start = std::time::Instant::now();
    let phase = |what: &str| eprintln!("{:>6.1?} {what}", start.elapsed());

    // The burst, with the poison published in the middle of it.
    let shop = |customer: Uuid, sku: &'static str| {
        let app = &app;
        async move {
            app.add(customer, sku, 1).await;
            assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
        }
    };
    let burst = join_all(
        good.iter()
            .map(|&c| shop(c, "GOOD-1"))
            .chain(bugged.iter().map(|&c| shop(c, "BUG-1"))),
    );
    let (_, poison) = tokio::join!(burst, publish_poison(&app));

    phase("burst sent");
    // All good work completes while the poison is retried.
    let carts = app.settled_carts(good, Duration::from_secs(60)).await;
    let converted = carts
        .iter()
        .filter(|c| c.status == CartStatus::Converted)
        .count();
    assert_eq!(
        converted, GOOD_STOCK as usize,
        "the stock sells out exactly"
    );

    phase("good checkouts settled");
    // Five attempts each (1 s doubling backoff), every one in the failure log with its
    // reason; then the dead-letter topic.
    let failures: Vec<(String, i32, String)> = eventually_within(
        Duration::from_secs(90),
        "five failed attempts of each",
        || async {
            let failures: Vec<(String, i32, String)> = sqlx::query_as(
                "SELECT kind, attempts, last_error FROM message_failures ORDER BY kind, last_error",
            )
            .fetch_all(inventory)
            .await
            .unwrap();
            (failures.len() == poison + 2 && failures.iter().all(|(_, n, _)| *n >= 5))
                .then_some(failures)
        },
    )
    .await;
    assert!(failures.iter().all(|(_, n, _)| *n == 5), "{failures:?}");
    let bug_failures = failures
        .iter()
        .filter(|(kind, _, error)| kind == "failing" && error.contains("injected bug"))
        .count();
    assert_eq!(bug_failures, 2, "{failures:?}");
    let scrape = crate::metrics::Scrape::of(&app, Service::Inventory).await;
    let subscription = [("subscription", "inventory.order-requested")];
    assert_eq!(
        scrape.sum("cartflow_messages_dead_lettered_total", &subscription),
        (poison + 2) as f64,
        "each last attempt counted once"
    );
    phase("five attempts logged for each bad message");
    // A look lists, never removes: collect what the looks show until all five have
    // been seen (they become dead letters one by one).
    let seen = std::sync::Mutex::new(HashMap::new());
    eventually_within(Duration::from_secs(90), "5 dead letters", || async {
        let letters = dead_letters(&app).await;
        let mut seen = seen.lock().unwrap();
        for letter in letters {
            seen.insert(letter["message_id"].as_str().unwrap().to_string(), letter);
        }
        (seen.len() == poison + 2).then_some(())
    })
    .await;
    let attempts: Vec<String> = seen
        .into_inner()
        .unwrap()
        .values()
        .map(|l| l["delivery_attempts"].as_str().unwrap_or("?").to_string())
        .collect();
    assert!(attempts.iter().all(|a| *a == "5"), "{attempts:?}");
    for bugged_customer in bugged {
        let cart: Value = app.cart(*bugged_customer).await.json().await.unwrap();
        assert_eq!(cart["status"], "checkout_pending");
    }

    phase("all five dead letters seen");
    // The fix.
    app.fix_reservation_bug().await;

    // One bugged checkout replayed from the dead letters over HTTP, by event id.
    let first: Uuid = sqlx::query_scalar(
        "SELECT event_id FROM message_failures WHERE kind = 'failing' ORDER BY last_failed_at LIMIT 1",
    )
    .fetch_one(inventory)
    .await
    .unwrap();
    let only_first = json!({ "subscription": PARKED, "event_ids": [first.to_string()] });
    let report = eventually_within(
        Duration::from_secs(90),
        "the dead letter to be replayed",
        || async {
            let report = admin_post(&app, "/admin/dead-letters/replay", only_first.clone()).await;
            let report = &report["subscriptions"][0]["report"];
            (report["matched"] == 1).then(|| report.clone())
        },
    )
    .await;
    assert_eq!(report["replayed"], 1, "{report}");
    eventually_within(
        Duration::from_secs(30),
        "the replayed checkout to convert",
        || async {
            let app = &app;
            let statuses: Vec<Value> = join_all(bugged.iter().map(|&c| async move {
                app.cart(c).await.json::<Value>().await.unwrap()["status"].clone()
            }))
            .await;
            (statuses.iter().filter(|s| *s == "converted").count() == 1).then_some(())
        },
    )
    .await;

    phase("first bugged checkout replayed over HTTP and converted");
    // The other from the event log: the only failed event nobody has processed since.
    let (stdout, _) = cartflow(&app, &["events", "replay", "--failed", "--wait", "30"]).await;
    assert!(
        stdout.contains("1 event(s) matched, 1 published again"),
        "{stdout}"
    );
    let carts = app.settled_carts(bugged, Duration::from_secs(30)).await;
    assert!(
        carts.iter().all(|c| c.status == CartStatus::Converted),
        "{carts:?}"
    );

    phase("second replayed from the log and converted");
    // The books: every request processed once, the poison never.
    let processed = app
        .count(
            Service::Inventory,
            "SELECT count(*) FROM processed_messages WHERE event_type = 'order-requested'",
        )
        .await;
    assert_eq!(processed, (SHOPPERS + 2) as i64);
    for (sku, initial, sold) in [
        ("GOOD-1", GOOD_STOCK, GOOD_STOCK),
        ("BUG-1", BUGGED_STOCK, 2),
    ] {
        let (available, reserved) = app.stock(sku).await;
        assert_eq!(
            available + reserved,
            i64::from(initial),
            "{sku}: stock + reserved = initial"
        );
        assert_eq!(reserved, i64::from(sold), "{sku}: reserved");
    }
    let orders = app.orders("status=confirmed").await;
    assert_eq!(
        orders.len(),
        GOOD_STOCK as usize + 2,
        "one order per converted cart"
    );
    // An email per outcome, and a receipt per order.
    eventually_within(Duration::from_secs(30), "one email per outcome", || async {
        let mails = app.mails();
        let shoppers = mails
            .iter()
            .filter(|m| m.to.iter().any(|to| to.starts_with("shopper")))
            .count();
        (shoppers == SHOPPERS + 2 + orders.len()).then_some(())
    })
    .await;
    let pushes = app
        .count(
            Service::Notification,
            "SELECT count(*) FROM notifications WHERE channel = 'push' AND kind IN ('order_confirmed', 'stock_rejected')",
        )
        .await;
    assert_eq!(pushes, (SHOPPERS + 2) as i64, "one push per outcome");
    app.stop().await;
}

//! Cart's own copy of the catalog, carried by `product.changed`: prices reach the cart
//! by event, adding to a cart needs no call to product (it keeps working while product
//! hangs), a line keeps the price it was added at, and a deleted product is 404.

use crate::helpers::{
    TestApp, assert_problem, count, eventually, eventually_within, spawn_app, spawn_app_with,
};
use cartflow_events::Service;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

async fn copy_price(app: &TestApp, sku: &str) -> Option<(i64, bool)> {
    sqlx::query_as("SELECT price_cents, active FROM catalog WHERE sku = $1")
        .bind(sku)
        .fetch_optional(app.pool(Service::Cart))
        .await
        .unwrap()
}

async fn set_price(app: &TestApp, sku: &str, price_cents: i64) {
    let response = app
        .staff
        .put(format!("{}/products/{sku}", app.url(Service::Product)))
        .json(&json!({ "name": format!("Product {sku}"), "price_cents": price_cents }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_change_reaches_the_cart_within_a_second_and_lines_keep_their_snapshot() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    eventually("the cart to hear of KB-1", || async {
        copy_price(&app, "KB-1").await.map(|_| ())
    })
    .await;
    let customer = Uuid::new_v4();
    app.add(customer, "KB-1", 2).await;

    set_price(&app, "KB-1", 1250).await;
    let changed = Instant::now();
    eventually_within(
        Duration::from_secs(1),
        "the new price in the cart's copy",
        || async { (copy_price(&app, "KB-1").await == Some((1250, true))).then_some(()) },
    )
    .await;
    assert!(changed.elapsed() < Duration::from_secs(1));

    // A SKU's catalog changes are a saga of their own: the timeline shows each one
    // published by product and consumed by cart.
    let (timeline, _) = crate::helpers::cartflow(&app, &["timeline", "KB-1", "-o", "json"]).await;
    let entries: Vec<Value> = serde_json::from_str(&timeline).unwrap();
    let seen = |service: &str, what: &str| {
        entries
            .iter()
            .filter(|e| {
                e["service"] == service && e["what"] == what && e["event_type"] == "product.changed"
            })
            .count()
    };
    assert_eq!(seen("product", "published"), 2, "{timeline}");
    assert_eq!(seen("cart", "consumed"), 2, "{timeline}");

    // The line keeps its snapshot and shows the current price beside it.
    let cart: Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(cart["items"][0]["unit_price_cents"], 1000);
    assert_eq!(cart["items"][0]["current_unit_price_cents"], 1250);
    assert_eq!(cart["total_cents"], 2000);
    // More of the same line keeps the price the line was added at.
    let cart = app.add(customer, "KB-1", 1).await;
    assert_eq!(cart.items[0].quantity, 3);
    assert_eq!(cart.items[0].unit_price_cents, 1000);
    assert_eq!(cart.items[0].current_unit_price_cents, Some(1250));
    assert_eq!(cart.total_cents, 3000);
    // A line added now takes the new price, and shows no second one.
    let other = Uuid::new_v4();
    let cart = app.add(other, "KB-1", 1).await;
    assert_eq!(cart.items[0].unit_price_cents, 1250);
    assert_eq!(cart.items[0].current_unit_price_cents, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_product_cannot_be_added_and_existing_lines_stay() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = Uuid::new_v4();
    app.add(customer, "KB-1", 1).await;
    let deleted = app
        .staff
        .delete(format!("{}/products/KB-1", app.url(Service::Product)))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    eventually("the deletion in the cart's copy", || async {
        (copy_price(&app, "KB-1").await == Some((1000, false))).then_some(())
    })
    .await;

    let detail = assert_problem(
        app.add_item(customer, "KB-1", 1).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(detail.contains("KB-1"), "{detail}");
    let cart: Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "the line stays");
    assert_eq!(cart["items"][0]["quantity"], 1);
    app.stop().await;
}

/// Product hangs: its address takes connections and never answers. The cart prices
/// the SKUs it knows from its copy without waiting on product, and checks out; a SKU
/// it has never heard of waits out product's timeout and answers 503 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_product_hanging_known_skus_still_fill_carts_and_check_out() {
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
    let timeout = Duration::from_millis(1000);
    let app = spawn_app_with(&[
        ("PRODUCT_SERVICE_URL", hanging_url.as_str()),
        ("PRODUCT_TIMEOUT_MS", "1000"),
        ("PRODUCT_RETRIES", "0"),
        ("PRODUCT_BREAKER_FAILURES", "1"),
        ("PRODUCT_BREAKER_OPEN_MS", "1500"),
    ])
    .await;
    let breaker_open_for = Duration::from_millis(1500);
    // Created at the real product; the cart hears of it only by event.
    app.create_product("KB-1", 1000, 50).await;
    eventually("the cart to hear of KB-1", || async {
        copy_price(&app, "KB-1").await.map(|_| ())
    })
    .await;
    // The copy is no longer empty, so cart's start-up fill (which asks the hanging
    // product, and whose failure opens the breaker) makes no new attempt: the last one
    // ends within the timeout, and the breaker it opened closes `breaker_open_for` later.
    let breaker_closed_by = Instant::now() + timeout + breaker_open_for;

    let customer = Uuid::new_v4();
    for _ in 0..10 {
        let started = Instant::now();
        let response = app.add_item(customer, "KB-1", 1).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            started.elapsed() < timeout,
            "an add of a known SKU waited {:?}, as if it asked product",
            started.elapsed()
        );
    }
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app.settled_cart(customer).await;
    assert_eq!(
        cart.status,
        cart_service::domain::CartStatus::Converted,
        "{cart:?}"
    );
    assert_eq!(cart.total_cents, 10_000);

    // Never heard of: product is asked, and does not answer in time. The answer comes
    // when the timeout fires (a margin for two busy cores), not later.
    tokio::time::sleep_until(breaker_closed_by.into()).await;
    let started = Instant::now();
    let response = app.add_item(Uuid::new_v4(), "NEW-1", 1).await;
    let retry_after = response.headers().get("retry-after").cloned();
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let waited = started.elapsed();
    assert!(retry_after.is_some(), "503 without Retry-After");
    assert!(waited >= timeout, "it did not wait for product: {waited:?}");
    assert!(
        waited < timeout + Duration::from_secs(2),
        "the timeout of {timeout:?} fired only after {waited:?}"
    );
    // That failure opened the breaker: the next unknown SKU is answered at once.
    let started = Instant::now();
    let response = app.add_item(Uuid::new_v4(), "NEW-2", 1).await;
    let detail = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let waited = started.elapsed();
    assert!(detail.contains("circuit open"), "{detail}");
    assert!(
        waited < timeout,
        "with the breaker open it still waited {waited:?}"
    );
    assert_eq!(
        count(
            app.pool(Service::Cart),
            "SELECT count(*) FROM catalog WHERE sku = 'NEW-1'"
        )
        .await,
        0
    );
    drop(hanging);
    app.stop().await;
}

/// A cart database that lost its copy (and the inbox rows that recorded it, as a new
/// database would): an operator's replay of `product.changed` rebuilds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_the_catalog_events_rebuilds_a_lost_copy() {
    let app = spawn_app().await;
    for (sku, price) in [("KB-1", 1000), ("MS-1", 2500)] {
        app.create_product(sku, price, 5).await;
    }
    set_price(&app, "KB-1", 1100).await;
    eventually("the cart to hear of both", || async {
        (copy_price(&app, "KB-1").await == Some((1100, true))
            && copy_price(&app, "MS-1").await.is_some())
        .then_some(())
    })
    .await;
    // Replayed long after, as an operator would: product's relay has marked them.
    eventually("product's relay to mark what it published", || async {
        let unmarked = count(
            app.pool(Service::Product),
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
        )
        .await;
        (unmarked == 0).then_some(())
    })
    .await;
    sqlx::raw_sql(
        "DELETE FROM catalog;
         DELETE FROM processed_messages WHERE event_type = 'product.changed';",
    )
    .execute(app.pool(Service::Cart))
    .await
    .unwrap();

    crate::helpers::cartflow(
        &app,
        &[
            "events",
            "replay",
            "--service",
            "product",
            "--type",
            "product.changed",
            "--wait",
            "30",
        ],
    )
    .await;
    eventually("the copy rebuilt, newest prices kept", || async {
        (copy_price(&app, "KB-1").await == Some((1100, true))
            && copy_price(&app, "MS-1").await == Some((2500, true)))
        .then_some(())
    })
    .await;
    app.stop().await;
}

/// A cart that starts with an empty copy (a new database, or one that lost its rows)
/// fills it from product's list, without waiting for events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_starting_with_an_empty_copy_fills_it_from_products_list() {
    let mut app = spawn_app().await;
    app.create_product("KB-1", 1000, 5).await;
    app.create_product("MS-1", 2500, 5).await;
    eventually("the cart to hear of both", || async {
        copy_price(&app, "MS-1")
            .await
            .and(copy_price(&app, "KB-1").await)
            .map(|_| ())
    })
    .await;
    // Emptied (nothing else changes the copy meanwhile), then the cart restarts.
    sqlx::query("DELETE FROM catalog")
        .execute(app.pool(Service::Cart))
        .await
        .unwrap();
    app.platform_mut()
        .stop_service(Service::Cart)
        .await
        .unwrap();
    app.platform_mut()
        .start_service(Service::Cart)
        .await
        .unwrap();
    eventually("the copy filled from product's list", || async {
        (copy_price(&app, "KB-1").await == Some((1000, true))
            && copy_price(&app, "MS-1").await == Some((2500, true)))
        .then_some(())
    })
    .await;
    app.stop().await;
}

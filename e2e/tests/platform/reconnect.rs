//! Reconnection: the services keep running through a PostgreSQL restart and an
//! emulator restart, `/ready` names what is down meanwhile, and work resumes by itself.
//! Each test restarts infrastructure of its own (`throwaway`), never the shared one.

use crate::burst::{assert_books, shop, shoppers};
use crate::helpers::{TestApp, TestInfra, eventually_within, spawn_app_on};
use crate::throwaway::{OwnPostgres, app_on_own_emulator};
use cartflow_events::Service;
use cartflow_platform::SERVICES;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `/ready` of `service`: its status code and body.
async fn ready(app: &TestApp, service: Service) -> (StatusCode, Value) {
    let response = app
        .http
        .get(format!("{}/ready", app.url(service)))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the service answers while its dependency is down");
    (response.status(), response.json().await.unwrap())
}

/// Waits until `service`'s `/ready` says 503 with exactly `down` down, and checks
/// that `/health` still answers (nothing has crashed).
async fn wait_until_reported_down(app: &TestApp, service: Service, down: &str) {
    let body = eventually_within(
        Duration::from_secs(20),
        &format!("{service} to report {down} down"),
        || async {
            let (status, body) = ready(app, service).await;
            (status == StatusCode::SERVICE_UNAVAILABLE && body["down"] == json!([down]))
                .then_some(body)
        },
    )
    .await;
    assert_eq!(body["checks"][down]["status"], "down", "{body}");
    let health = app
        .http
        .get(format!("{}/health", app.url(service)))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

async fn wait_until_all_ready(app: &TestApp, within: Duration) {
    eventually_within(within, "every service to be ready again", || async {
        let all = join_all(SERVICES.iter().map(|&s| ready(app, s))).await;
        all.iter()
            .all(|(status, _)| *status == StatusCode::OK)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_survives_a_postgres_restart() {
    const SHOPPERS: usize = 60;
    const STOCK: i32 = 45;
    let pg = OwnPostgres::start();
    let emulator =
        std::env::var("PUBSUB_EMULATOR_HOST").unwrap_or_else(|_| "127.0.0.1:8085".into());
    let app = spawn_app_on(TestInfra::on(pg.url(), emulator).await, &[]).await;
    app.create_product("PG-1", 1000, STOCK).await;
    let customers = shoppers(&app, SHOPPERS).await;

    let accepted = AtomicUsize::new(0);
    let burst = join_all(customers.iter().map(|&c| shop(&app, c, "PG-1", &accepted)));
    let outage = async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while accepted.load(Ordering::SeqCst) < SHOPPERS / 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::task::block_in_place(|| pg.down());
        wait_until_reported_down(&app, Service::Order, "database").await;
        wait_until_reported_down(&app, Service::Cart, "database").await;
        tokio::task::block_in_place(|| pg.up());
    };
    tokio::join!(burst, outage);

    wait_until_all_ready(&app, Duration::from_secs(30)).await;
    let carts = app.settled_carts(&customers, Duration::from_secs(90)).await;
    assert_books(&app, "PG-1", STOCK, &carts).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_rides_out_an_emulator_restart_and_restores_the_topology() {
    let (mut emulator, app) = app_on_own_emulator(&[]).await;
    app.create_product("EMU-1", 1000, 10).await;
    let before = app.create_customer("Before", "before@example.com").await;
    let during = app.create_customer("During", "during@example.com").await;
    app.wait_for_contact(before, "before@example.com").await;
    app.wait_for_contact(during, "during@example.com").await;
    app.checkout(before, "EMU-1", 1).await;
    // A checkout's confirmation and its receipt.
    let mailed = |to: &'static str| {
        let app = &app;
        move || async move {
            let n = app
                .mails()
                .iter()
                .filter(|m| m.to.iter().any(|t| t == to))
                .count();
            (n == 2).then_some(())
        }
    };
    eventually_within(
        Duration::from_secs(30),
        "the first confirmation",
        mailed("before@example.com"),
    )
    .await;

    // The emulator dies, and everything it held with it.
    emulator.kill();
    wait_until_reported_down(&app, Service::Order, "pubsub").await;
    wait_until_reported_down(&app, Service::Inventory, "pubsub").await;
    // Product publishes the catalog's changes: it says so too.
    wait_until_reported_down(&app, Service::Product, "pubsub").await;

    // The shop keeps taking checkouts: the request waits in the cart's outbox.
    app.add(during, "EMU-1", 2).await;
    assert_eq!(app.convert(during).await.status(), StatusCode::ACCEPTED);

    // A new, empty emulator: the services re-create the topology and carry on.
    tokio::task::block_in_place(|| emulator.up());
    wait_until_all_ready(&app, Duration::from_secs(60)).await;
    let cart = eventually_within(Duration::from_secs(60), "the checkout to end", || async {
        let cart: Value = app.cart(during).await.json().await.ok()?;
        (cart["status"] != "checkout_pending").then_some(cart)
    })
    .await;
    assert_eq!(cart["status"], "converted", "{cart}");
    eventually_within(
        Duration::from_secs(30),
        "the second confirmation",
        mailed("during@example.com"),
    )
    .await;
    assert_eq!(
        app.stock("EMU-1").await,
        (7, 3),
        "stock + reserved = initial"
    );
    assert_eq!(
        app.orders("status=confirmed").await.len(),
        2,
        "one order per checkout"
    );
    app.stop().await;
}

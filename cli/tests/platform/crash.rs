//! Crash safety: a service, running as its own process, is killed with SIGKILL in the
//! middle of a burst of 100 checkouts and started again. Every checkout must still end,
//! and the books must balance: stock + reserved equals the initial stock, what is
//! reserved is exactly what confirmed orders hold, one order per converted cart, and
//! one email and one push per customer-facing outcome.
//!
//! The killed process's streaming pulls die with it. The messages it held come back
//! when their lease runs out: at most `CONSUMER_LEASE_EXTENSION_SECS` (10 s) later.
//! With the SDK's default of 60 s these tests took up to 66 s; with 10 s, 6–15 s. On
//! the emulator as the scripts start it (with its stream-reset fix, README) nothing
//! else stalls. The deadlines below allow for the lease.

use crate::helpers::{TestApp, count, eventually_within, spawn_app};
use cartflow_events::Service;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use uuid::Uuid;

const SHOPPERS: usize = 100;
const STOCK: i32 = 70;

/// Starts `cartflow serve <service>` with the platform's settings for it, on its port.
async fn stand_in(app: &TestApp, service: Service) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_cartflow"))
        .args(["serve", service.name()])
        .envs(app.platform().env_of(service).vars())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the stand-in process");
    let ready = format!("{}/ready", app.url(service));
    eventually_within(
        Duration::from_secs(30),
        "the process to be ready",
        || async {
            let response = app.http.get(&ready).send().await.ok()?;
            response.status().is_success().then_some(())
        },
    )
    .await;
    child
}

/// A shopper as a real client behaves: retries while the cart is unreachable or
/// failing, and takes a 409 on convert to mean an earlier attempt got through.
async fn shop(app: &TestApp, customer: Uuid, accepted: &AtomicUsize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let cart = app.url(Service::Cart);
    loop {
        let add = || {
            app.http
                .post(format!("{cart}/cart/items"))
                .header("X-Customer-Id", customer.to_string())
                .json(&json!({ "product_sku": "KB-1", "quantity": 1 }))
        };
        match add().send().await {
            Ok(r) if r.status() == StatusCode::OK => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("could not add a line: {other:?}"),
        }
    }
    loop {
        let convert = || {
            app.http
                .post(format!("{cart}/cart/convert-to-order"))
                .header("X-Customer-Id", customer.to_string())
        };
        match convert().send().await {
            Ok(r) if matches!(r.status(), StatusCode::ACCEPTED | StatusCode::CONFLICT) => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("could not convert: {other:?}"),
        }
    }
    accepted.fetch_add(1, Ordering::SeqCst);
}

/// Emails to the shoppers (a low-stock alert may go to the stock manager too).
fn shopper_mails(app: &TestApp) -> usize {
    app.mails()
        .iter()
        .filter(|m| m.to.iter().any(|to| to.starts_with("shopper")))
        .count()
}

async fn sigkill(child: &mut Child) {
    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill").args(["-KILL", &pid]).status().await;
    assert!(killed.unwrap().success());
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status}");
}

async fn a_burst_survives_a_sigkill_of(service: Service) {
    let mut app = spawn_app().await;
    app.create_product("KB-1", 1000, STOCK).await;
    let customers: Vec<Uuid> = join_all((0..SHOPPERS).map(|n| {
        let app = &app;
        async move {
            let email = format!("shopper{n}@example.com");
            let id = app.create_customer(&format!("Shopper {n}"), &email).await;
            app.wait_for_contact(id, &email).await;
            id
        }
    }))
    .await;

    // The service leaves the in-process platform and runs as its own process.
    app.platform_mut().stop_service(service).await.unwrap();
    let mut process = stand_in(&app, service).await;

    let accepted = AtomicUsize::new(0);
    let burst = join_all(customers.iter().map(|&c| shop(&app, c, &accepted)));
    let crash = async {
        // Kill it once about a third of the checkouts are under way.
        let deadline = Instant::now() + Duration::from_secs(10);
        while accepted.load(Ordering::SeqCst) < SHOPPERS / 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sigkill(&mut process).await;
        stand_in(&app, service).await
    };
    let (_, restarted) = tokio::join!(burst, crash);
    process = restarted;

    let carts = app.settled_carts(&customers, Duration::from_secs(90)).await;

    // Back in-process (SIGTERM first), so the books can be read from its database.
    let pid = process.id().unwrap().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(process.wait().await.unwrap().success());
    app.platform_mut().start_service(service).await.unwrap();

    let converted = carts.iter().filter(|c| c["status"] == "converted").count();
    let rejected = SHOPPERS - converted;
    let (available, reserved) = app.stock("KB-1").await;
    assert_eq!(
        available + reserved,
        i64::from(STOCK),
        "stock + reserved = initial"
    );
    let orders = app.orders("status=confirmed").await;
    assert_eq!(orders.len(), converted, "one order per converted cart");
    let ordered: i64 = count(
        app.pool(Service::Order),
        "SELECT coalesce(sum(quantity), 0)::bigint FROM order_items",
    )
    .await;
    assert_eq!(reserved, ordered, "reserved = what the orders hold");
    assert!(
        converted > 0 && converted <= STOCK as usize,
        "{converted} converted"
    );

    // One email and one push per outcome, all sent, none twice.
    eventually_within(Duration::from_secs(60), "every notification sent", || async {
        let sent = |kind: &'static str| {
            let app = &app;
            async move {
                app.count(
                    Service::Notification,
                    &format!("SELECT count(*) FROM notifications WHERE kind = '{kind}' AND status = 'sent'"),
                )
                .await
            }
        };
        let confirmed = sent("order_confirmed").await;
        let rejections = sent("stock_rejected").await;
        (confirmed == 2 * converted as i64
            && rejections == 2 * rejected as i64
            && shopper_mails(&app) == SHOPPERS)
            .then_some(())
    })
    .await;
    let all = app
        .count(
            Service::Notification,
            "SELECT count(*) FROM notifications WHERE kind IN ('order_confirmed', 'stock_rejected')",
        )
        .await;
    assert_eq!(all, 2 * SHOPPERS as i64, "no notification twice");
    assert_eq!(shopper_mails(&app), SHOPPERS, "no email twice");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_inventory_during_a_burst_loses_and_doubles_nothing() {
    a_burst_survives_a_sigkill_of(Service::Inventory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_order_during_a_burst_loses_and_doubles_nothing() {
    a_burst_survives_a_sigkill_of(Service::Order).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_cart_during_a_burst_loses_and_doubles_nothing() {
    a_burst_survives_a_sigkill_of(Service::Cart).await;
}

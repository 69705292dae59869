//! Crash safety: a service, running as its own process, is killed with SIGKILL in the
//! middle of a burst of 100 checkouts and started again. Every checkout must still end,
//! and the books must balance: stock + reserved equals the initial stock, what is
//! reserved is exactly what confirmed orders hold, one order per converted cart, and
//! one email and one push per customer-facing outcome.
//!
//! The killed process's streaming pulls die with it. The messages it held come back
//! when their lease runs out: at most `CONSUMER_LEASE_EXTENSION_SECS` (10 s) later.
//! With the SDK's default of 60 s these tests took up to 66 s; with 10 s, 6–15 s. On
//! the emulator as the scripts start it (with its stream-reset fix, docs/emulator-shim.md) nothing
//! else stalls. The deadlines below allow for the lease.

use crate::burst::{assert_books, shop_paying, shoppers};
use crate::helpers::{TestApp, eventually_within, spawn_app};
use cartflow_events::Service;
use futures::future::join_all;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const SHOPPERS: usize = 100;
const STOCK: i32 = 70;

/// Starts `cartflow serve <service>` with the platform's settings for it, on its port.
pub(crate) async fn stand_in(app: &TestApp, service: Service) -> Child {
    let child = Command::new(crate::helpers::cartflow_binary())
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

/// Stops the stand-in `process` of `service` (SIGTERM: it must exit cleanly) and starts
/// the service in the platform again.
pub(crate) async fn back_in_process(app: &mut TestApp, mut process: Child, service: Service) {
    let pid = process.id().unwrap().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(process.wait().await.unwrap().success());
    app.platform_mut().start_service(service).await.unwrap();
}

pub(crate) async fn sigkill(child: &mut Child) {
    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill").args(["-KILL", &pid]).status().await;
    assert!(killed.unwrap().success());
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status}");
}

async fn a_burst_survives_a_sigkill_of(service: Service) {
    a_burst_paying_with_survives_a_sigkill_of(service, &["pm_card_visa"]).await
}

/// The burst's shoppers pay with `cards`, in turn.
async fn a_burst_paying_with_survives_a_sigkill_of(service: Service, cards: &[&str]) {
    let mut app = spawn_app().await;
    app.create_product("KB-1", 1000, STOCK).await;
    let customers = shoppers(&app, SHOPPERS).await;

    // The service leaves the in-process platform and runs as its own process.
    app.platform_mut().stop_service(service).await.unwrap();
    let mut process = stand_in(&app, service).await;

    let accepted = AtomicUsize::new(0);
    let burst = join_all(
        customers
            .iter()
            .enumerate()
            .map(|(i, &c)| shop_paying(&app, c, "KB-1", cards[i % cards.len()], &accepted)),
    );
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

    // Back in-process, so the books can be read from its database.
    back_in_process(&mut app, process, service).await;

    assert_books(&app, "KB-1", STOCK, &carts).await;
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

/// Payment's worker is killed with provider calls out and answers unrecorded: the
/// calls are made again under the same idempotency keys, so every checkout ends, no
/// card is charged twice, and the books balance three ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_payment_during_a_burst_charges_once_and_balances() {
    a_burst_paying_with_survives_a_sigkill_of(
        Service::Payment,
        &[
            "pm_card_visa",
            "pm_card_mastercard",
            "pm_card_chargeDeclinedInsufficientFunds",
            "pm_card_flaky",
            "pm_card_chargeDeclined",
        ],
    )
    .await;
}

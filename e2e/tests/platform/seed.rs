//! `cartflow seed` against a running platform: the demo customers and catalog arrive
//! through the services' HTTP APIs, and a second run changes nothing and says so.

use crate::helpers::{cartflow_binary, spawn_app};
use cartflow::seed::{CATALOG, CUSTOMERS};
use cartflow_events::Service;
use serde_json::Value;

/// Runs `cartflow seed` against `app`'s customer, product and inventory services.
pub(crate) async fn seed(app: &crate::helpers::TestApp, extra: &[&str]) -> String {
    let urls: Vec<String> = [Service::Customer, Service::Product, Service::Inventory]
        .into_iter()
        .map(|s| format!("{}={}", s.name(), app.url(s)))
        .collect();
    let output = tokio::process::Command::new(cartflow_binary())
        .arg("seed")
        .args(["--service-url", &urls.join(",")])
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("running cartflow seed");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cartflow seed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// What the services hold of the demo data, as staff read it.
async fn demo_data(app: &crate::helpers::TestApp) -> Vec<Value> {
    let mut held = Vec::new();
    for (id, name, email) in CUSTOMERS {
        let c = app
            .get_json(Service::Customer, &format!("/customers/{id}"))
            .await;
        assert_eq!(
            (c["name"].as_str(), c["email"].as_str()),
            (Some(name), Some(email))
        );
        held.push(c);
    }
    for (sku, name, price_cents, stock) in CATALOG {
        let p = app
            .get_json(Service::Product, &format!("/products/{sku}"))
            .await;
        assert_eq!(p["name"].as_str(), Some(name), "{p}");
        assert_eq!(p["price_cents"].as_i64(), Some(price_cents), "{p}");
        let (quantity, reserved) = app.stock(sku).await;
        assert_eq!((quantity, reserved), (i64::from(stock), 0), "{sku}");
        held.push(p);
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_twice_loads_the_demo_data_once_and_the_second_run_says_so() {
    let app = spawn_app().await;

    let first: Value = serde_json::from_str(&seed(&app, &["-o", "json"]).await).unwrap();
    let (customers, products) = (CUSTOMERS.len() as u64, CATALOG.len() as u64);
    assert_eq!(first["customers"]["created"], customers, "{first}");
    // A product and its stock item each.
    assert_eq!(first["catalog"]["created"], 2 * products, "{first}");
    assert_eq!(first["changed"], true);
    let before = demo_data(&app).await;

    let second = seed(&app, &[]).await;
    assert!(second.starts_with("nothing changed"), "{second}");
    let again: Value = serde_json::from_str(&seed(&app, &["-o", "json"]).await).unwrap();
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["customers"]["already_there"], customers, "{again}");
    assert_eq!(again["catalog"]["already_there"], 2 * products, "{again}");
    assert_eq!(again["customers"]["created"], 0);
    assert_eq!(again["catalog"]["created"], 0);
    assert_eq!(
        demo_data(&app).await,
        before,
        "a second run changed the data"
    );
    let listed = app.get_json(Service::Product, "/products").await;
    let count = listed["items"].as_array().map(Vec::len);
    assert_eq!(count, Some(CATALOG.len()), "{listed}");
    app.stop().await;
}

//! The load generator against a real (in-process) stack: a short run must complete
//! with zero errors and every confirmed order's email and push delivered. No timing is
//! asserted; BENCHMARKS.md holds the measured numbers.

use crate::helpers::spawn_app;
use cartflow::load::{Plan, Target, run};
use cartflow_events::Service;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_run_completes_with_zero_errors() {
    let app = spawn_app().await;
    let target = Target {
        cart_url: app.url(Service::Cart),
        product_url: app.url(Service::Product),
        inventory_url: app.url(Service::Inventory),
        customer_url: app.url(Service::Customer),
        pubsub: app.infra.pubsub().clone(),
        database_url: Some(app.infra.settings.server_url.clone()),
    };
    let plan = Plan {
        levels: vec![3],
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(3),
        checkout_timeout: Duration::from_secs(15),
        p99_bound: None,
        customers_per_shopper: 2,
        products: 4,
        progress: false,
        prefill_rows: 0,
        prefill_crossing: None,
    };
    let report = run(target, plan).await.expect("the load run");
    let level = &report.levels[0];
    assert_eq!(level.errors, 0, "{level:#?}");
    assert!(level.completed > 0, "{level:#?}");
    assert_eq!(level.email.count, level.completed, "every order emailed");
    assert_eq!(level.push.count, level.completed, "every order pushed");
    assert!(level.postgres_commits_per_checkout.is_some_and(|c| c > 0.0));
    assert!(!report.seconds.is_empty());
    app.stop().await;
}

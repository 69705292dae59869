//! The load generator against a real (in-process) stack: a short run must complete
//! with zero errors and every confirmed order's email and push delivered. No timing is
//! asserted; BENCHMARKS.md holds the measured numbers.

use crate::helpers::{TestApp, spawn_app};
use cartflow::load::{Plan, Target, run};
use cartflow_events::Service;
use std::time::Duration;

/// The in-process stack as the load generator reaches it.
fn target_of(app: &TestApp, database_url: Option<String>) -> Target {
    Target {
        cart_url: app.url(Service::Cart),
        product_url: app.url(Service::Product),
        inventory_url: app.url(Service::Inventory),
        customer_url: app.url(Service::Customer),
        pubsub: app.infra.pubsub().clone(),
        database_url,
    }
}

/// Three shoppers for three seconds after one of warm-up.
fn short_plan(decline_every: usize) -> Plan {
    Plan {
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
        decline_every,
        // The test's databases carry a prefix the load generator does not know.
        analyze_after_warmup: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_run_completes_with_zero_errors() {
    let app = spawn_app().await;
    let target = target_of(&app, Some(app.infra.settings.server_url.clone()));
    let plan = short_plan(0);
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

/// With every third checkout paying with a declining card, the declines end their
/// checkouts (counted as rejected, not timed out) and the rest convert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_with_declining_cards_counts_each_decline_as_an_ending() {
    let app = spawn_app().await;
    let target = target_of(&app, None);
    let plan = short_plan(3);
    let report = run(target, plan).await.expect("the load run");
    let level = &report.levels[0];
    assert!(level.rejected > 0, "declines seen: {level:#?}");
    assert!(level.completed > 0, "the others converted: {level:#?}");
    assert_eq!((level.timeouts, level.http_errors), (0, 0), "{level:#?}");
    let declined = app
        .count(
            Service::Payment,
            "SELECT count(*) FROM payments WHERE status = 'declined'",
        )
        .await;
    assert!(declined > 0);
    app.stop().await;
}

//! The load generator: virtual shoppers drive a running stack through its HTTP API,
//! each adding two lines and converting, then waiting for the outcome, which an
//! observer learns from its own Pub/Sub subscriptions (`order.created`,
//! `stock.rejected`, `delivery.result`). Nothing reads the services' databases.
//!
//! A run is one or more levels of concurrency (the knee search raises it until p99
//! passes a bound); each level warms up, then measures for a fixed time. Reported per
//! level: completed checkouts/s; convert → confirmed, → email, → push latencies; errors
//! and timeouts (a checkout that never ends is an error, as is a confirmed order whose
//! email or push never arrives); CPU and peak RSS per process of the stack; and
//! PostgreSQL commits/s and per checkout.
//!
//! Here: the target, the plan, and the run over its levels; `level`: one level.

mod level;
mod observer;
pub mod plot;
mod procs;
mod report;
pub mod results;
mod setup;
mod shopper;
mod stats;
pub mod tables;

use report::per_second;
pub use report::{LevelReport, Report, Transactions};
use setup::{setup_customers, setup_products};
use shopper::Attempt;

use cartflow_client::CartClient;
use cartflow_messaging::PubSubConfig;
use level::run_level;
use observer::{Ledger, Observer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Where the stack is. Its `Debug` hides the database URL's password.
#[derive(Clone)]
pub struct Target {
    pub cart_url: String,
    pub product_url: String,
    pub inventory_url: String,
    pub customer_url: String,
    pub pubsub: PubSubConfig,
    /// The PostgreSQL server, for commits/s and its processes' CPU (optional).
    pub database_url: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database_url = self.database_url.as_deref().map(cartflow_kit::redact::Url);
        f.debug_struct("Target")
            .field("cart_url", &self.cart_url)
            .field("product_url", &self.product_url)
            .field("inventory_url", &self.inventory_url)
            .field("customer_url", &self.customer_url)
            .field("pubsub", &self.pubsub)
            .field("database_url", &database_url)
            .finish()
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Concurrency levels, run in order.
    pub levels: Vec<usize>,
    pub warmup: Duration,
    /// Measured time per level.
    pub duration: Duration,
    /// A checkout not ended after this is a timeout (an error).
    pub checkout_timeout: Duration,
    /// Stop raising concurrency once p99 convert → confirmed exceeds this (knee search).
    pub p99_bound: Option<Duration>,
    /// Each shopper cycles through this many customers, so a customer's previous cart
    /// has long been converted when it shops again.
    pub customers_per_shopper: usize,
    /// Distinct products to pick lines from (fewer means hotter stock rows).
    pub products: usize,
    /// Print a progress line every second.
    pub progress: bool,
    /// Rows added to every service's inbox and outbox before the run, half of them
    /// past the retention windows (0: none).
    pub prefill_rows: u64,
    /// Spread the aged half so that it crosses the windows over this long instead.
    pub prefill_crossing: Option<std::time::Duration>,
    /// Every this many checkouts one pays with a declining test card (0: none): a
    /// declined checkout ends `payment_declined` and counts as rejected.
    pub decline_every: usize,
    /// At the end of each warm-up, `ANALYZE` every service's database. The run's
    /// databases are minutes old: until autovacuum first reaches a table, the
    /// services' cached plans were made when it was empty, and their look-ups by key
    /// scan it whole. A deployment that has run for more than a minute has its
    /// statistics; this measures that.
    pub analyze_after_warmup: bool,
}

/// What every shopper of a level shares.
struct Shared {
    cart: CartClient,
    target: Target,
    plan: Plan,
    ledger: Ledger,
    skus: Vec<String>,
    attempts: Mutex<Vec<Attempt>>,
    /// Checkouts started, for `Plan::decline_every`.
    checkouts: std::sync::atomic::AtomicUsize,
}

/// Runs `plan` against `target`.
pub async fn run(target: Target, plan: Plan) -> anyhow::Result<Report> {
    anyhow::ensure!(!plan.levels.is_empty(), "no concurrency level to run");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(1024)
        .build()?;
    let max_shoppers = *plan.levels.iter().max().unwrap();
    let run_id = &Uuid::new_v4().simple().to_string()[..8];

    let skus = setup_products(&http, &target, plan.products).await?;
    let customers = setup_customers(
        &http,
        &target,
        run_id,
        max_shoppers * plan.customers_per_shopper,
        plan.progress,
    )
    .await?;
    let ledger = Ledger::default();
    let observer = Observer::start(&target.pubsub, ledger.clone()).await?;
    let pool = match &target.database_url {
        Some(url) => Some(cartflow_kit::db::connect(url, 1).await?),
        None => None,
    };
    let postmaster = match &pool {
        Some(pool) => procs::postmaster_of(pool).await,
        None => None,
    };

    let shared = Arc::new(Shared {
        cart: CartClient::new(http, target.cart_url.clone()),
        target,
        plan: plan.clone(),
        ledger,
        skus,
        attempts: Mutex::new(Vec::new()),
        checkouts: std::sync::atomic::AtomicUsize::new(0),
    });
    if let (Some(server), true) = (&shared.target.database_url, plan.prefill_rows > 0) {
        tables::prefill(server, plan.prefill_rows, plan.prefill_crossing).await?;
    }
    let table_sizes = async |target: &Target| match &target.database_url {
        Some(server) => tables::sizes(server).await.unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let tables_before = table_sizes(&shared.target).await;
    let started = Instant::now();
    let mut report = Report {
        tables_before,
        tables_after: BTreeMap::new(),
        levels: Vec::new(),
        knee: None,
        seconds: Vec::new(),
    };
    for &concurrency in &plan.levels {
        let level = run_level(&shared, &customers, concurrency, started, &pool, postmaster).await?;
        let within = plan.p99_bound.is_none_or(|bound| {
            level.errors == 0 && level.confirmed.p99_ms <= bound.as_secs_f64() * 1000.0
        });
        if plan.progress {
            eprintln!(
                "C={concurrency}: {:.1} checkouts/s, p50 {} ms, p99 {} ms, {} errors; \
                 convert request p50 {} ms, p99 {} ms",
                level.checkouts_per_second,
                level.confirmed.p50_ms,
                level.confirmed.p99_ms,
                level.errors,
                level.convert_request.p50_ms,
                level.convert_request.p99_ms
            );
            for (database, done) in &level.postgres_per_database {
                eprintln!(
                    "  {database}: {} commits, {} rollbacks per checkout",
                    done.commits_per_checkout, done.rollbacks_per_checkout
                );
            }
        }
        report.levels.push(level);
        if plan.p99_bound.is_some() {
            if !within {
                break;
            }
            report.knee = Some(concurrency);
        }
    }
    report.seconds = per_second(&shared.attempts.lock().unwrap(), started);
    report.tables_after = table_sizes(&shared.target).await;
    if plan.progress {
        for (service, after) in &report.tables_after {
            let before = report.tables_before.get(service);
            eprintln!(
                "  {service}: inbox {} → {} rows, outbox {} → {} rows, {} → {} MiB",
                before.map_or(0, |b| b.processed_messages_rows),
                after.processed_messages_rows,
                before.map_or(0, |b| b.outbox_rows),
                after.outbox_rows,
                before.map_or(0.0, |b| b.mib),
                after.mib
            );
        }
    }
    observer.close().await;
    Ok(report)
}

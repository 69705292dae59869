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

mod observer;
pub mod plot;
mod procs;
mod report;
pub mod results;
mod setup;
mod shopper;
mod stats;
pub mod tables;

pub use report::{LevelReport, Report, Transactions};
use report::{commits, per_second};
use setup::{setup_customers, setup_products};
use shopper::{Attempt, Failure, shop};

use cartflow_client::CartClient;
use cartflow_messaging::PubSubConfig;
use observer::{Ledger, Observer};
use procs::Snapshot;
use stats::Latency;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
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

async fn run_level(
    shared: &Arc<Shared>,
    customers: &[Uuid],
    concurrency: usize,
    run_started: Instant,
    pool: &Option<sqlx::PgPool>,
    postmaster: Option<u32>,
) -> anyhow::Result<LevelReport> {
    let plan = &shared.plan;
    let stop = CancellationToken::new();
    let mut shoppers = Vec::new();
    for n in 0..concurrency {
        let own: Vec<Uuid> = customers
            .iter()
            .skip(n * plan.customers_per_shopper)
            .take(plan.customers_per_shopper)
            .copied()
            .collect();
        shoppers.push(tokio::spawn(shop(
            shared.clone(),
            n,
            own,
            concurrency,
            stop.clone(),
        )));
    }
    let progress = plan.progress.then(|| {
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move { print_progress(&shared, run_started, concurrency, stop).await })
    });

    tokio::time::sleep(plan.warmup).await;
    let window_start = Instant::now();
    let cpu_before = Snapshot::take(postmaster);
    let commits_before = commits(pool).await;
    tokio::time::sleep(plan.duration).await;
    let window_end = Instant::now();
    let cpu_after = Snapshot::take(postmaster);
    let commits_after = commits(pool).await;
    stop.cancel();
    for shopper in shoppers {
        let _ = shopper.await;
    }
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    let seconds = (window_end - window_start).as_secs_f64();

    let measured: Vec<Attempt> = shared
        .attempts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| {
            a.concurrency == concurrency
                && a.converted_at >= window_start
                && a.converted_at < window_end
        })
        .cloned()
        .collect();
    let confirmed: Vec<&Attempt> = measured.iter().filter(|a| a.result.is_ok()).collect();
    // Emails and pushes for the measured orders: wait (bounded) for the stragglers.
    let wanted: Vec<Uuid> = confirmed.iter().filter_map(|a| a.cart_id).collect();
    let deadline = Instant::now() + plan.checkout_timeout;
    let (mut email, mut push) = loop {
        let found = shared.ledger.with(|all| {
            let mut email = Vec::new();
            let mut push = Vec::new();
            for id in &wanted {
                if let Some(c) = all.get(id)
                    && let Some(converted) = c.converted_at
                {
                    email.extend(c.emailed_at.map(|t| t - converted));
                    push.extend(c.pushed_at.map(|t| t - converted));
                }
            }
            (email, push)
        });
        if (found.0.len() == wanted.len() && found.1.len() == wanted.len())
            || Instant::now() > deadline
        {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut latencies: Vec<Duration> = confirmed
        .iter()
        .filter_map(|a| a.result.clone().ok())
        .collect();
    let count = |f: fn(&Failure) -> bool| {
        measured
            .iter()
            .filter(|a| matches!(&a.result, Err(e) if f(e)))
            .count()
    };
    let timeouts = count(|f| matches!(f, Failure::Timeout));
    let rejected = count(|f| matches!(f, Failure::Rejected));
    let http_errors = count(|f| matches!(f, Failure::Http(_)));
    let missing_email = wanted.len() - email.len();
    let missing_push = wanted.len() - push.len();
    let first_error = measured.iter().find_map(|a| match &a.result {
        Err(Failure::Http(e)) => Some(e.clone()),
        Err(Failure::Timeout) => Some(format!("checkout {:?} did not end in time", a.cart_id)),
        Err(Failure::Rejected) => Some(format!("checkout {:?} was rejected", a.cart_id)),
        Ok(_) => None,
    });
    let per_checkout = |n: i64| (n as f64 / confirmed.len().max(1) as f64 * 100.0).round() / 100.0;
    let postgres_per_database = match (&commits_before, &commits_after) {
        (Some(before), Some(after)) => after
            .iter()
            .filter(|(name, _)| name.starts_with("cartflow"))
            .map(|(name, &(commits, rollbacks))| {
                let (c0, r0) = before.get(name).copied().unwrap_or_default();
                let done = Transactions {
                    commits_per_checkout: per_checkout(commits - c0),
                    rollbacks_per_checkout: per_checkout(rollbacks - r0),
                };
                (name.clone(), done)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    // Over the databases there at both ends: one created or dropped meanwhile (another
    // stack's, a test's) would count its whole history, or take it away.
    let commits = commits_before
        .as_ref()
        .zip(commits_after.as_ref())
        .map(|(before, after)| {
            after
                .iter()
                .filter_map(|(name, &(c, _))| before.get(name).map(|&(c0, _)| c - c0))
                .sum::<i64>() as f64
        });
    Ok(LevelReport {
        concurrency,
        measured_seconds: (seconds * 100.0).round() / 100.0,
        completed: confirmed.len(),
        checkouts_per_second: (confirmed.len() as f64 / seconds * 10.0).round() / 10.0,
        confirmed: Latency::of(&mut latencies),
        convert_request: Latency::of(
            &mut measured
                .iter()
                .filter_map(|a| a.convert_answered_in)
                .collect::<Vec<_>>(),
        ),
        email: Latency::of(&mut email),
        push: Latency::of(&mut push),
        errors: timeouts + rejected + http_errors + missing_email + missing_push,
        timeouts,
        rejected,
        http_errors,
        missing_email,
        missing_push,
        first_error,
        processes: cpu_before.usage(&cpu_after, seconds),
        postgres_commits_per_second: commits.map(|c| (c / seconds).round()),
        postgres_commits_per_checkout: commits
            .filter(|_| !confirmed.is_empty())
            .map(|c| (c / confirmed.len() as f64 * 10.0).round() / 10.0),
        postgres_per_database,
    })
}

async fn print_progress(
    shared: &Shared,
    run_started: Instant,
    concurrency: usize,
    stop: CancellationToken,
) {
    let mut seen = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let attempts = shared.attempts.lock().unwrap();
        let fresh = &attempts[seen..];
        seen = attempts.len();
        let mut latencies: Vec<Duration> =
            fresh.iter().filter_map(|a| a.result.clone().ok()).collect();
        let errors = fresh.iter().filter(|a| a.result.is_err()).count();
        let latency = Latency::of(&mut latencies);
        eprintln!(
            "[{:>4}s] C={concurrency:<3} {:>4} checkouts/s   p50 {:>6.1} ms   p99 {:>6.1} ms   errors {errors}",
            run_started.elapsed().as_secs(),
            latency.count,
            latency.p50_ms,
            latency.p99_ms,
        );
    }
}

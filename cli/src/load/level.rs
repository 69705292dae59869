//! One level of concurrency: its shoppers run through a warm-up and a measured window,
//! then the window's checkouts, latencies, errors, CPU and commits make its report.

use super::Shared;
use super::procs::Snapshot;
use super::report::{LevelReport, Transactions, commits};
use super::shopper::{Attempt, Failure, shop};
use super::stats::Latency;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub(super) async fn run_level(
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
    if let (true, Some(server)) = (plan.analyze_after_warmup, &shared.target.database_url)
        && let Err(err) = super::tables::analyze(server).await
    {
        eprintln!("could not analyze the services' databases ({err:#}); measuring without");
    }
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

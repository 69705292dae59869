//! What a load run reports: per level, and per second for the plot.

use super::Attempt;
use super::plot::Second;
use super::procs::ProcessUse;
use super::stats::Latency;
use super::tables;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One level's results.
#[derive(Debug, Clone, Serialize)]
pub struct LevelReport {
    pub concurrency: usize,
    pub measured_seconds: f64,
    pub completed: usize,
    pub checkouts_per_second: f64,
    pub confirmed: Latency,
    /// How long the convert request itself took to answer (what publishing before the
    /// response costs in push mode).
    pub convert_request: Latency,
    pub email: Latency,
    pub push: Latency,
    pub errors: usize,
    pub timeouts: usize,
    pub rejected: usize,
    pub http_errors: usize,
    pub missing_email: usize,
    pub missing_push: usize,
    pub first_error: Option<String>,
    pub processes: BTreeMap<String, ProcessUse>,
    pub postgres_commits_per_second: Option<f64>,
    pub postgres_commits_per_checkout: Option<f64>,
    /// Commits and rollbacks per checkout, per database (cartflow's own databases).
    pub postgres_per_database: BTreeMap<String, Transactions>,
}

/// What one database did per completed checkout.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Transactions {
    pub commits_per_checkout: f64,
    pub rollbacks_per_checkout: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub levels: Vec<LevelReport>,
    /// Each service's inbox and outbox before the first level and after the last.
    pub tables_before: BTreeMap<String, tables::TableSizes>,
    pub tables_after: BTreeMap<String, tables::TableSizes>,
    /// The highest level whose p99 stayed within the bound (knee search only).
    pub knee: Option<usize>,
    pub seconds: Vec<Second>,
}

/// Completed checkouts and latency per second of the run (by convert time).
pub(super) fn per_second(attempts: &[Attempt], started: Instant) -> Vec<Second> {
    let mut buckets: BTreeMap<u64, (usize, Vec<Duration>)> = BTreeMap::new();
    for attempt in attempts {
        let t = attempt
            .converted_at
            .saturating_duration_since(started)
            .as_secs();
        let bucket = buckets
            .entry(t)
            .or_insert((attempt.concurrency, Vec::new()));
        bucket.0 = attempt.concurrency;
        if let Ok(latency) = attempt.result {
            bucket.1.push(latency);
        }
    }
    buckets
        .into_iter()
        .map(|(t, (concurrency, mut latencies))| {
            let latency = Latency::of(&mut latencies);
            Second {
                t,
                concurrency,
                completed: latency.count,
                p50_ms: latency.p50_ms,
                p99_ms: latency.p99_ms,
            }
        })
        .collect()
}

/// Commits and rollbacks so far, per database.
pub(super) async fn commits(pool: &Option<sqlx::PgPool>) -> Option<BTreeMap<String, (i64, i64)>> {
    let pool = pool.as_ref()?;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT datname::text, xact_commit, xact_rollback FROM pg_stat_database
         WHERE datname IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .ok()?;
    Some(
        rows.into_iter()
            .map(|(name, c, r)| (name, (c, r)))
            .collect(),
    )
}

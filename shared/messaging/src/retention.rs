//! Retention: the plumbing's tables stay bounded.
//!
//! - `processed_messages` rows are kept for the dedup window, which must outlast every
//!   way a message can come back: Pub/Sub redelivers for as long as it retains a message
//!   (the subscription's retention), and an event-log replay re-publishes an event for as
//!   long as its outbox row is kept (and a `seek` replays what a topic retained). A
//!   duplicate older than the window would be applied again; within the configured
//!   limits none can arrive: the service refuses to start with a window not longer than
//!   Pub/Sub's retention (its subscriptions' and topics', read at start-up) plus the
//!   replay horizon.
//! - Published `outbox` rows are kept for the replay horizon; unpublished rows never go.
//! - `message_failures` rows are marked resolved once their event was processed, and a
//!   resolved row goes after the failures window. An unresolved one stays until an
//!   operator replays or drops it: it grows with poison messages, not with traffic.
//!
//! Removal runs in small batches (`DELETE … WHERE ctid = ANY(… LIMIT n FOR UPDATE SKIP
//! LOCKED)`), each its own short transaction, with a rest between batches as long as the
//! batch took (times a coefficient): no long lock, no huge delete, the rows it touches
//! are old ones the hot path never reads, and a backlog (a service back after days
//! away) drains at whatever pace leaves the database to traffic. Two
//! replicas running it at once skip each other's locked rows, so each row is removed once
//! and neither waits. Batched deletes were chosen over daily partitions: the tables stay
//! plain (the inbox's primary key keeps working across days, which a partitioned table
//! would only allow with the partition key in it), and at this scale the deletes cost
//! little (BENCHMARKS.md).

use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How long a POST's answer is kept for its `Idempotency-Key`: a client retrying within
/// a day gets the first answer again.
pub const IDEMPOTENCY_WINDOW: Duration = DAY;

#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// How long consumed event ids are remembered (the dedup window).
    pub inbox: Duration,
    /// How long published outbox rows are kept (the event-log replay horizon).
    pub outbox: Duration,
    /// How long resolved consume failures are kept.
    pub failures: Duration,
    /// How often a run starts.
    pub interval: Duration,
    /// Rows removed per statement.
    pub batch_size: i64,
    /// The least rest between two batches.
    pub pause: Duration,
    /// The rest after a batch is at least this many times the batch's own duration.
    pub sleep_coef: f64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            inbox: 15 * DAY,
            outbox: 7 * DAY,
            failures: 30 * DAY,
            interval: Duration::from_secs(60),
            batch_size: 1000,
            pause: Duration::from_millis(50),
            sleep_coef: 1.0,
        }
    }
}

/// The topology's message retention (Terraform's, and Pub/Sub's default for a
/// subscription).
pub const DEFAULT_SUBSCRIPTION_RETENTION: Duration =
    Duration::from_secs(cartflow_events::topology::MESSAGE_RETENTION_SECONDS);

impl RetentionSettings {
    /// The refusal, if the dedup window does not outlast how long a message can come
    /// back: `pubsub_retention` (redelivery, or a seek) plus the outbox's replay horizon.
    pub fn check_dedup_window(&self, pubsub_retention: Duration) -> Result<(), String> {
        let needed = pubsub_retention + self.outbox;
        if self.inbox <= needed {
            return Err(format!(
                "the dedup window ({} h) must exceed Pub/Sub's message retention ({} h) \
                 plus the outbox replay horizon ({} h): a duplicate arriving later would \
                 be applied again",
                self.inbox.as_secs() / 3600,
                pubsub_retention.as_secs() / 3600,
                self.outbox.as_secs() / 3600
            ));
        }
        Ok(())
    }

    /// How long to rest after a batch that took `took`. A database busy with traffic
    /// makes batches slower, and retention backs off in proportion: with a coefficient
    /// of 1 it holds one connection at most half the time, however large the backlog.
    /// (pt-archiver's `--sleep-coef` is the model.)
    pub fn rest_after(&self, took: Duration) -> Duration {
        self.pause.max(took.mul_f64(self.sleep_coef))
    }
}

/// What one run removed, and how the tables stand after it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    pub inbox_removed: u64,
    /// Stored answers to idempotency keys past their day.
    pub idempotency_removed: u64,
    pub outbox_removed: u64,
    pub failures_resolved: u64,
    pub failures_removed: u64,
}

/// Removes what has outlived its window, in batches. Safe to run from several
/// replicas at once.
pub async fn run_once(
    pool: &PgPool,
    settings: &RetentionSettings,
) -> sqlx::Result<RetentionReport> {
    run_once_until(pool, settings, &CancellationToken::new()).await
}

/// [`run_once`], stopping between two batches once `stop` is cancelled: a service
/// shutting down over a large backlog must not wait for the whole of it (Cloud Run
/// allows 10 s after SIGTERM). What is left goes in a later run.
pub async fn run_once_until(
    pool: &PgPool,
    settings: &RetentionSettings,
    stop: &CancellationToken,
) -> sqlx::Result<RetentionReport> {
    let failures_resolved = sqlx::query(
        "UPDATE message_failures f SET resolved_at = now()
         WHERE resolved_at IS NULL AND event_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM processed_messages p
                       WHERE p.event_id = f.event_id AND p.service = f.service)",
    )
    .execute(pool)
    .await?
    .rows_affected();
    let inbox_removed = remove_batched(
        pool,
        settings,
        "processed_messages",
        "processed_at < now() - $2::interval",
        settings.inbox,
        stop,
    )
    .await?;
    // `created_at` first: its BRIN index finds old rows; `published_at` decides.
    let outbox_removed = remove_batched(
        pool,
        settings,
        "outbox",
        "created_at < now() - $2::interval AND published_at < now() - $2::interval",
        settings.outbox,
        stop,
    )
    .await?;
    let failures_removed = remove_batched(
        pool,
        settings,
        "message_failures",
        "resolved_at IS NOT NULL AND last_failed_at < now() - $2::interval",
        settings.failures,
        stop,
    )
    .await?;
    let idempotency_removed = remove_batched(
        pool,
        settings,
        "idempotency_keys",
        "created_at < now() - $2::interval",
        IDEMPOTENCY_WINDOW,
        stop,
    )
    .await?;
    Ok(RetentionReport {
        inbox_removed,
        idempotency_removed,
        outbox_removed,
        failures_resolved,
        failures_removed,
    })
}

async fn remove_batched(
    pool: &PgPool,
    settings: &RetentionSettings,
    table: &str,
    aged: &str,
    window: Duration,
    stop: &CancellationToken,
) -> sqlx::Result<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM {table} WHERE {aged} LIMIT $1 FOR UPDATE SKIP LOCKED))"
    );
    let mut removed = 0;
    // Checked before each batch, so a cancelled run takes no batch in the tables after it.
    while !stop.is_cancelled() {
        let started = Instant::now();
        let batch = sqlx::query(&sql)
            .bind(settings.batch_size)
            .bind(window)
            .execute(pool)
            .await?
            .rows_affected();
        removed += batch;
        if batch < settings.batch_size as u64 {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(settings.rest_after(started.elapsed())) => {}
        }
    }
    Ok(removed)
}

/// Size on disk (with indexes and TOAST) and age of the oldest row of each table.
async fn table_state(pool: &PgPool) -> sqlx::Result<Vec<(String, i64, Option<f64>)>> {
    sqlx::query_as(
        "SELECT 'processed_messages', pg_total_relation_size('processed_messages'),
                (SELECT extract(epoch FROM now() - min(processed_at))::float8 FROM processed_messages)
         UNION ALL
         SELECT 'outbox', pg_total_relation_size('outbox'),
                (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM outbox)
         UNION ALL
         SELECT 'message_failures', pg_total_relation_size('message_failures'),
                (SELECT extract(epoch FROM now() - min(first_failed_at))::float8 FROM message_failures)",
    )
    .fetch_all(pool)
    .await
}

/// Runs retention every `interval` until `shutdown`, logging what each run removed,
/// how long it took, and the tables' sizes and oldest rows.
pub async fn run(
    pool: PgPool,
    service: cartflow_events::Service,
    settings: RetentionSettings,
    shutdown: CancellationToken,
) {
    loop {
        let started = Instant::now();
        match run_once_until(&pool, &settings, &shutdown).await {
            Ok(report) => {
                let took_ms = started.elapsed().as_millis() as u64;
                let removed = report.inbox_removed
                    + report.outbox_removed
                    + report.failures_removed
                    + report.idempotency_removed;
                let tables = table_state(&pool).await.unwrap_or_default();
                let tables: Vec<String> = tables
                    .iter()
                    .map(|(name, bytes, oldest)| {
                        let oldest = oldest.map_or("empty".into(), |s| format!("{:.0} s", s));
                        format!("{name} {} KiB, oldest {oldest}", bytes / 1024)
                    })
                    .collect();
                let tables = tables.join("; ");
                if removed > 0 {
                    tracing::info!(%service, inbox = report.inbox_removed, outbox = report.outbox_removed,
                        failures = report.failures_removed, resolved = report.failures_resolved,
                        idempotency_keys = report.idempotency_removed,
                        took_ms, %tables, "retention removed aged rows");
                } else {
                    tracing::debug!(%service, took_ms, %tables, "retention: nothing aged");
                }
            }
            Err(err) => tracing::warn!(%service, error = %err, "retention run failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(settings.interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_rests_as_long_as_its_batches_take_times_the_coefficient() {
        let settings = RetentionSettings::default();
        let ms = Duration::from_millis;
        // A quick batch rests the least pause; a slow one as long as it took.
        assert_eq!(settings.rest_after(ms(10)), ms(50));
        assert_eq!(settings.rest_after(ms(800)), ms(800));
        let gentle = RetentionSettings {
            sleep_coef: 3.0,
            ..settings.clone()
        };
        assert_eq!(gentle.rest_after(ms(800)), ms(2400));
        let eager = RetentionSettings {
            sleep_coef: 0.0,
            ..settings
        };
        assert_eq!(eager.rest_after(ms(800)), ms(50));
    }

    #[test]
    fn the_dedup_window_must_outlast_redelivery_and_replay() {
        let defaults = RetentionSettings::default();
        assert!(
            defaults
                .check_dedup_window(DEFAULT_SUBSCRIPTION_RETENTION)
                .is_ok()
        );
        let short = RetentionSettings {
            inbox: 14 * DAY,
            ..defaults.clone()
        };
        let refusal = short
            .check_dedup_window(DEFAULT_SUBSCRIPTION_RETENTION)
            .unwrap_err();
        assert!(refusal.contains("336 h"), "{refusal}");
        assert!(defaults.check_dedup_window(10 * DAY).is_err());
    }
}

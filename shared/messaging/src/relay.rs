//! Publishes committed outbox events to Pub/Sub and records them as published.
//!
//! Two paths, one publishing routine:
//! - **Hand-off** (the hot path): [`Tx::commit`](crate::Tx::commit) passes its events
//!   to the relay in memory, so nothing reads the table back. Published events are
//!   marked in bulk, at most once per `mark_interval`: one small commit for everything
//!   published meanwhile, instead of a claim-publish-mark transaction per pass. A crash
//!   between publish and mark leaves rows unmarked; the sweep publishes them again and
//!   the consumers' inboxes absorb the copy (README, guarantees).
//! - **Sweep** (the backstop): every `sweep_interval`, and when asked after a replay,
//!   claims unpublished rows with `FOR UPDATE SKIP LOCKED`, publishes and marks them in
//!   one transaction: rows of a crashed process, of a failed publish, or re-queued by a
//!   replay. It leaves alone what this process holds in memory and rows younger than
//!   `sweep_grace`, which belong to whichever replica committed them.
//!
//! In publish-before-response mode the committing task itself publishes and marks its
//! events before [`Tx::commit`](crate::Tx::commit) returns, through the same routine.

use crate::{Outbox, PubSubConfig};
use anyhow::Context;
use google_cloud_pubsub::client::{BasePublisher, Publisher};
use google_cloud_pubsub::model::Message;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Most rows the sweep claims and publishes in one transaction.
    pub batch_size: i64,
    /// How often to look for rows nobody handed over (crash leftovers, failed publishes).
    pub sweep_interval: Duration,
    /// Rows younger than this are left to the process that committed them.
    pub sweep_grace: Duration,
    /// How often published events are marked in the table (one statement each time).
    pub mark_interval: Duration,
    /// Longest pause after failed publishes before trying again.
    pub max_backoff: Duration,
    /// Fault injection: publish every event this many times (default 1). Exercises
    /// consumers' idempotency end to end, as a relay crashing after each publish would.
    pub copies: usize,
    /// Publish and mark a transaction's events before its `commit` returns, so a
    /// response is sent only once what the request wrote is on its way (push delivery
    /// on Cloud Run, where the CPU is throttled after the response).
    pub publish_before_response: bool,
    /// Longest any publish waits for Pub/Sub: past it a request goes on (its rows wait
    /// for the sweep) and the relay moves on; a copy the SDK still sends later is a
    /// duplicate the inboxes skip.
    pub publish_timeout: Duration,
    /// Test-only: `false` runs no background work at all (no hand-off publishing, no
    /// sweep, no final flush), standing in for a CPU throttled between requests.
    pub background: bool,
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            batch_size: 100,
            sweep_interval: Duration::from_secs(2),
            sweep_grace: Duration::from_secs(2),
            mark_interval: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            copies: 1,
            publish_before_response: false,
            publish_timeout: Duration::from_secs(5),
            background: true,
        }
    }
}

/// An event as it is written to the outbox and published.
#[derive(Debug, Clone)]
pub(crate) struct OutgoingEvent {
    pub event_id: Uuid,
    /// Short topic name; the deployment's prefix is applied when publishing.
    pub topic: String,
    pub ordering_key: String,
    pub attributes: HashMap<String, String>,
    pub payload: serde_json::Value,
}

/// The outcome of one pass over the outbox table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub published: usize,
    pub failed: usize,
}

/// Runs the background side of a service's outbox until shut down.
pub struct OutboxRelay {
    core: Arc<RelayCore>,
}

/// What the background task and publish-before-response callers share.
pub(crate) struct RelayCore {
    outbox: Outbox,
    config: PubSubConfig,
    client: BasePublisher,
    publishers: Mutex<HashMap<String, Publisher>>,
    settings: RelaySettings,
    /// Events this process holds in memory (publishing, or published and not yet
    /// marked): the sweep must not publish them a second time.
    owned: Mutex<HashSet<Uuid>>,
    /// Published at the given time, not yet marked in the table.
    unmarked: Mutex<Vec<(Uuid, chrono::DateTime<chrono::Utc>)>>,
}

impl OutboxRelay {
    pub async fn new(
        outbox: Outbox,
        config: PubSubConfig,
        settings: RelaySettings,
    ) -> anyhow::Result<Self> {
        let core = Arc::new(RelayCore {
            client: config.publisher().await?,
            outbox: outbox.clone(),
            config,
            publishers: Mutex::default(),
            settings,
            owned: Mutex::default(),
            unmarked: Mutex::default(),
        });
        if core.settings.publish_before_response {
            // Only the first relay of an outbox can serve it inline; a service has one.
            let _ = outbox.shared().inline.set(core.clone());
        }
        Ok(OutboxRelay { core })
    }

    /// One sweep until the table has nothing left to publish or a publish fails.
    pub async fn drain(&self) -> anyhow::Result<DrainReport> {
        self.core.sweep(self.core.settings.sweep_grace).await
    }

    /// Runs until `shutdown`, then publishes and marks what is left and flushes.
    pub async fn run(self, shutdown: CancellationToken) {
        let core = &self.core;
        let settings = &core.settings;
        if !settings.background {
            shutdown.cancelled().await;
            return;
        }
        let service = core.outbox.service();
        let shared = core.outbox.shared();
        let mut next_sweep = Instant::now();
        let mut grace = settings.sweep_grace;
        let mut last_mark = Instant::now();
        let mut backoff = Duration::ZERO;
        loop {
            core.publish_handed_off().await;
            if core.has_unmarked() && last_mark.elapsed() >= settings.mark_interval {
                core.mark_unmarked().await;
                last_mark = Instant::now();
            }
            if Instant::now() >= next_sweep {
                match core.sweep(grace).await {
                    Ok(report) if report.failed == 0 => backoff = Duration::ZERO,
                    Ok(_) => backoff = next_backoff(backoff, settings.max_backoff),
                    Err(err) => {
                        backoff = next_backoff(backoff, settings.max_backoff);
                        tracing::warn!(%service, error = format!("{err:#}"), ?backoff, "outbox sweep failed");
                    }
                }
                grace = settings.sweep_grace;
                next_sweep = Instant::now()
                    + if backoff.is_zero() {
                        settings.sweep_interval
                    } else {
                        backoff
                    };
            }
            let mut wake_at = next_sweep;
            if core.has_unmarked() {
                wake_at = wake_at.min(last_mark + settings.mark_interval);
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = shared.handed_off.notified() => {}
                _ = shared.sweep_now.notified() => {
                    // A replay re-queued rows: take them whatever their age.
                    next_sweep = Instant::now();
                    grace = Duration::ZERO;
                }
                _ = tokio::time::sleep_until(wake_at.into()) => {}
            }
        }
        core.publish_handed_off().await;
        core.mark_unmarked().await;
        match core.sweep(Duration::ZERO).await {
            Ok(report) => {
                tracing::info!(%service, swept = report.published, "outbox flushed at shutdown")
            }
            Err(err) => {
                tracing::warn!(%service, error = format!("{err:#}"), "outbox flush at shutdown failed; rows stay for the next start")
            }
        }
    }
}

impl RelayCore {
    fn publisher_for(&self, topic: &str) -> Publisher {
        let mut publishers = self.publishers.lock().expect("publisher map poisoned");
        publishers
            .entry(topic.to_string())
            .or_insert_with(|| self.client.publisher(self.config.topic_path(topic)).build())
            .clone()
    }

    /// Publishes `events` together; one result per event, in order. Gives up after
    /// `publish_timeout`, so no caller (a request, the relay loop) waits out the SDK's
    /// own retries while Pub/Sub is away. A topic whose publish failed gets a fresh
    /// publisher next time: the old one may still be retrying its batch, and new
    /// messages would queue behind it (seen: 30 s after an emulator restart).
    async fn publish(&self, events: &[OutgoingEvent]) -> Vec<Result<(), String>> {
        let timeout = self.settings.publish_timeout;
        let results = match tokio::time::timeout(timeout, self.publish_unbounded(events)).await {
            Ok(results) => results,
            Err(_) => {
                let error = format!("publish timed out after {timeout:?}");
                events.iter().map(|_| Err(error.clone())).collect()
            }
        };
        let mut publishers = self.publishers.lock().expect("publisher map poisoned");
        for (event, result) in events.iter().zip(&results) {
            if result.is_err() {
                publishers.remove(&event.topic);
            }
        }
        results
    }

    async fn publish_unbounded(&self, events: &[OutgoingEvent]) -> Vec<Result<(), String>> {
        let mut pending = Vec::with_capacity(events.len());
        let mut used = HashMap::new();
        for event in events {
            let publisher = self.publisher_for(&event.topic);
            // No ordering key on the wire: every subscription is unordered (handlers do
            // not depend on order), and the SDK keeps a batching actor per key it has
            // ever seen, which it walks on every flush. With one key per cart and order
            // that cost grew with every checkout (measured: most of the services' CPU
            // and a growing RSS, BENCHMARKS.md). The key stays in the outbox row.
            let data = serde_json::to_vec(&event.payload).expect("JSON values serialise");
            let message = Message::new()
                .set_data(data)
                .set_attributes(event.attributes.clone());
            for _ in 1..self.settings.copies {
                drop(publisher.publish(message.clone()));
            }
            pending.push(publisher.publish(message));
            used.entry(event.topic.clone()).or_insert(publisher);
        }
        // Send now rather than after the batching delay: this is already a batch.
        for publisher in used.values() {
            publisher.flush().await;
        }
        let mut results = Vec::with_capacity(pending.len());
        for future in pending {
            results.push(future.await.map(drop).map_err(|e| e.to_string()));
        }
        results
    }

    /// Takes every handed-off event and publishes it; the successes wait for the next
    /// bulk mark, the failures are left to the sweep.
    async fn publish_handed_off(&self) {
        let events = std::mem::take(
            &mut *self
                .outbox
                .shared()
                .committed
                .lock()
                .expect("outbox hand-off poisoned"),
        );
        if events.is_empty() {
            return;
        }
        self.own(&events);
        let results = self.publish(&events).await;
        let now = chrono::Utc::now();
        let mut unmarked = self.unmarked.lock().expect("relay state poisoned");
        let mut owned = self.owned.lock().expect("relay state poisoned");
        for (event, result) in events.iter().zip(results) {
            match result {
                Ok(()) => unmarked.push((event.event_id, now)),
                Err(error) => {
                    owned.remove(&event.event_id);
                    tracing::warn!(event_id = %event.event_id, %error, "publish failed; the sweep will retry");
                }
            }
        }
    }

    /// Publish-before-response: publishes `events` and marks them before returning.
    /// Failures are logged and left to the sweep; the caller's commit stands.
    pub(crate) async fn publish_inline(&self, events: Vec<OutgoingEvent>) {
        self.own(&events);
        let results = self.publish(&events).await;
        let now = chrono::Utc::now();
        let mut published = Vec::new();
        for (event, result) in events.iter().zip(results) {
            match result {
                Ok(()) => published.push((event.event_id, now)),
                Err(error) => {
                    tracing::warn!(event_id = %event.event_id, %error, "publish failed; the sweep will retry")
                }
            }
        }
        if let Err(err) = self.mark(&published).await {
            // Published but not marked: the sweep publishes them again, and the
            // consumers' inboxes skip the copy.
            tracing::warn!(error = %err, "cannot mark published events");
        }
        self.disown(events.iter().map(|e| e.event_id));
    }

    /// Publish-before-response: a sweep of re-queued rows, awaited.
    pub(crate) async fn sweep_now_inline(&self) {
        if let Err(err) = self.sweep(Duration::ZERO).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "outbox sweep failed; rows stay queued"
            );
        }
    }

    fn own(&self, events: &[OutgoingEvent]) {
        let mut owned = self.owned.lock().expect("relay state poisoned");
        owned.extend(events.iter().map(|e| e.event_id));
    }

    fn disown(&self, ids: impl Iterator<Item = Uuid>) {
        let mut owned = self.owned.lock().expect("relay state poisoned");
        for id in ids {
            owned.remove(&id);
        }
    }

    fn has_unmarked(&self) -> bool {
        !self
            .unmarked
            .lock()
            .expect("relay state poisoned")
            .is_empty()
    }

    /// Marks everything published since the last mark, in one statement.
    async fn mark_unmarked(&self) {
        let batch = std::mem::take(&mut *self.unmarked.lock().expect("relay state poisoned"));
        if batch.is_empty() {
            return;
        }
        match self.mark(&batch).await {
            Ok(()) => self.disown(batch.iter().map(|(id, _)| *id)),
            Err(err) => {
                tracing::warn!(error = %err, rows = batch.len(), "cannot mark published events; will retry");
                self.unmarked
                    .lock()
                    .expect("relay state poisoned")
                    .extend(batch);
            }
        }
    }

    async fn mark(&self, published: &[(Uuid, chrono::DateTime<chrono::Utc>)]) -> sqlx::Result<()> {
        if published.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<Uuid>, Vec<_>) = published.iter().copied().unzip();
        sqlx::query(
            "UPDATE outbox o SET published_at = p.at, publish_attempts = o.publish_attempts + 1
             FROM UNNEST($1::uuid[], $2::timestamptz[]) AS p(event_id, at)
             WHERE o.event_id = p.event_id",
        )
        .bind(ids)
        .bind(times)
        .execute(self.outbox.pool())
        .await
        .map(drop)
    }

    /// Sweeps until the table has nothing left for this process or a publish fails.
    async fn sweep(&self, grace: Duration) -> anyhow::Result<DrainReport> {
        let mut total = DrainReport::default();
        loop {
            let pass = self.sweep_once(grace).await?;
            total.published += pass.published;
            total.failed += pass.failed;
            if pass.failed > 0 || pass.published < self.settings.batch_size as usize {
                return Ok(total);
            }
        }
    }

    /// Claims up to one batch of unpublished rows nobody here holds, publishes them,
    /// and records the outcome, all in one transaction.
    async fn sweep_once(&self, grace: Duration) -> anyhow::Result<DrainReport> {
        let held: Vec<Uuid> = {
            let owned = self.owned.lock().expect("relay state poisoned");
            let handed_off = self
                .outbox
                .shared()
                .committed
                .lock()
                .expect("outbox hand-off poisoned");
            owned
                .iter()
                .copied()
                .chain(handed_off.iter().map(|e| e.event_id))
                .collect()
        };
        let mut tx = self.outbox.pool().begin().await?;
        let rows = sqlx::query(
            "SELECT id, event_id, topic, ordering_key, attributes, payload FROM outbox
             WHERE published_at IS NULL AND created_at <= now() - $2::interval
               AND event_id <> ALL($3)
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.settings.batch_size)
        .bind(grace)
        .bind(&held)
        .fetch_all(&mut *tx)
        .await
        .context("claiming outbox rows")?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(DrainReport::default());
        }
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            events.push(OutgoingEvent {
                event_id: row.get("event_id"),
                topic: row.get("topic"),
                ordering_key: row.get("ordering_key"),
                attributes: serde_json::from_value(row.get("attributes"))
                    .context("outbox attributes")?,
                payload: row.get("payload"),
            });
        }
        let results = self.publish(&events).await;
        let mut published = Vec::new();
        let mut report = DrainReport::default();
        for (row, result) in rows.iter().zip(results) {
            let id: i64 = row.get("id");
            match result {
                Ok(()) => published.push(id),
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(outbox_id = id, %error, "publish failed; will retry");
                    // The row stays unpublished and is retried on a later pass.
                    sqlx::query(
                        "UPDATE outbox SET publish_attempts = publish_attempts + 1, last_error = $2
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        sqlx::query(
            "UPDATE outbox SET published_at = now(), publish_attempts = publish_attempts + 1
             WHERE id = ANY($1)",
        )
        .bind(&published)
        .execute(&mut *tx)
        .await?;
        tx.commit()
            .await
            .context("recording published outbox rows")?;
        report.published = published.len();
        Ok(report)
    }
}

fn next_backoff(current: Duration, max: Duration) -> Duration {
    (current * 2).clamp(Duration::from_millis(100), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100ms_up_to_the_cap() {
        let max = Duration::from_secs(1);
        let mut b = Duration::ZERO;
        let mut seen = vec![];
        for _ in 0..6 {
            b = next_backoff(b, max);
            seen.push(b.as_millis());
        }
        assert_eq!(seen, vec![100, 200, 400, 800, 1000, 1000]);
    }
}

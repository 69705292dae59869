//! Publishes committed outbox rows to Pub/Sub and marks them published.
//!
//! Woken by every commit that staged events, so the happy path has no polling delay; a
//! slow sweep also runs to pick up rows left by a crash, by another replica, or by a
//! failed publish. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several replicas
//! can relay from one database without publishing a row twice concurrently.

use crate::{Outbox, PubSubConfig};
use anyhow::Context;
use google_cloud_pubsub::client::{BasePublisher, Publisher};
use google_cloud_pubsub::model::Message;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Most rows claimed and published in one transaction.
    pub batch_size: i64,
    /// How often to look for rows nobody woke us for (crash leftovers, other replicas).
    pub sweep_interval: Duration,
    /// Longest pause after failed publishes before trying again.
    pub max_backoff: Duration,
    /// Fault injection: publish every event this many times (default 1). Exercises
    /// consumers' idempotency end to end, as a relay crashing after each publish would.
    pub copies: usize,
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            batch_size: 100,
            sweep_interval: Duration::from_secs(2),
            max_backoff: Duration::from_secs(10),
            copies: 1,
        }
    }
}

pub struct OutboxRelay {
    outbox: Outbox,
    config: PubSubConfig,
    client: BasePublisher,
    publishers: Mutex<HashMap<String, Publisher>>,
    settings: RelaySettings,
}

/// The outcome of one pass over the outbox.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub published: usize,
    pub failed: usize,
}

impl OutboxRelay {
    pub async fn new(
        outbox: Outbox,
        config: PubSubConfig,
        settings: RelaySettings,
    ) -> anyhow::Result<Self> {
        Ok(OutboxRelay {
            client: config.publisher().await?,
            outbox,
            config,
            publishers: Mutex::default(),
            settings,
        })
    }

    fn publisher_for(&self, topic: &str) -> Publisher {
        let mut publishers = self.publishers.lock().expect("publisher map poisoned");
        publishers
            .entry(topic.to_string())
            .or_insert_with(|| self.client.publisher(self.config.topic_path(topic)).build())
            .clone()
    }

    /// Claims up to one batch of unpublished rows, publishes them, and records the
    /// outcome, all in one transaction.
    pub async fn drain_once(&self) -> anyhow::Result<DrainReport> {
        let mut tx = self.outbox.pool().begin().await?;
        let rows = sqlx::query(
            "SELECT id, topic, attributes, payload FROM outbox
             WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.settings.batch_size)
        .fetch_all(&mut *tx)
        .await
        .context("claiming outbox rows")?;
        if rows.is_empty() {
            return Ok(DrainReport::default());
        }

        let mut pending = Vec::with_capacity(rows.len());
        let mut used = HashMap::new();
        for row in &rows {
            let topic: String = row.get("topic");
            let attributes: HashMap<String, String> =
                serde_json::from_value(row.get("attributes")).context("outbox attributes")?;
            let payload: serde_json::Value = row.get("payload");
            let publisher = self.publisher_for(&topic);
            // No ordering key on the wire: every subscription is unordered (handlers do
            // not depend on order), and the SDK keeps a batching actor per key it has
            // ever seen, which it walks on every flush. With one key per cart and order
            // that cost grew with every checkout (measured: most of the services' CPU
            // and a growing RSS, BENCHMARKS.md). The key stays in the outbox row.
            let message = Message::new()
                .set_data(serde_json::to_vec(&payload)?)
                .set_attributes(attributes);
            for _ in 1..self.settings.copies {
                drop(publisher.publish(message.clone()));
            }
            let future = publisher.publish(message);
            pending.push((row.get::<i64, _>("id"), future));
            used.insert(topic, publisher);
        }
        // Send now rather than after the batching delay: this is already a batch.
        for publisher in used.values() {
            publisher.flush().await;
        }

        let mut published = Vec::new();
        let mut report = DrainReport::default();
        for (id, future) in pending {
            match future.await {
                Ok(_) => published.push(id),
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(outbox_id = id, error = %err, "publish failed; will retry");
                    // The row stays unpublished and is retried on a later pass.
                    sqlx::query(
                        "UPDATE outbox SET publish_attempts = publish_attempts + 1, last_error = $2
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(err.to_string())
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

    /// Publishes until the outbox is empty or a publish fails.
    pub async fn drain(&self) -> anyhow::Result<DrainReport> {
        let mut total = DrainReport::default();
        loop {
            let pass = self.drain_once().await?;
            total.published += pass.published;
            total.failed += pass.failed;
            if pass.failed > 0 || pass.published < self.settings.batch_size as usize {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown`, then publishes what is left and flushes the client.
    pub async fn run(self, shutdown: CancellationToken) {
        let service = self.outbox.service();
        let mut backoff = Duration::ZERO;
        loop {
            match self.drain().await {
                Ok(report) if report.failed == 0 => backoff = Duration::ZERO,
                Ok(_) => backoff = next_backoff(backoff, self.settings.max_backoff),
                Err(err) => {
                    backoff = next_backoff(backoff, self.settings.max_backoff);
                    tracing::warn!(%service, error = format!("{err:#}"), ?backoff, "outbox relay pass failed");
                }
            }
            let wait = if backoff.is_zero() {
                self.settings.sweep_interval
            } else {
                backoff
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.outbox.woken(), if backoff.is_zero() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        match self.drain().await {
            Ok(report) => {
                tracing::info!(%service, published = report.published, "outbox flushed at shutdown")
            }
            Err(err) => {
                tracing::warn!(%service, error = format!("{err:#}"), "outbox flush at shutdown failed; rows stay for the next start")
            }
        }
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

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
//! In publish-before-response mode the committing task itself publishes its events
//! before [`Tx::commit`](crate::Tx::commit) returns, through the same routine; what it
//! could not publish goes out with the process's next commit (and what an earlier
//! process left, with its first), so no event waits for background CPU. The marks
//! are left to the background relay's bulk mark while it runs (a commit saved per
//! request), and made inline when it does not.

mod publish;
mod sweep;

pub(crate) use publish::RelayCore;

use crate::{Outbox, PubSubConfig};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
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
            failed: Mutex::default(),
            swept_at_start: AtomicBool::new(false),
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

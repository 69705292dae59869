//! The hot path: publishing what commits hand over, marking it in bulk, and
//! publish-before-response.

use super::{OutgoingEvent, RelaySettings};
use crate::{Outbox, PubSubConfig, trace_context};
use google_cloud_pubsub::client::{BasePublisher, Publisher};
use google_cloud_pubsub::model::Message;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// What the background task and publish-before-response callers share.
pub(crate) struct RelayCore {
    pub(super) outbox: Outbox,
    pub(super) config: PubSubConfig,
    pub(super) client: BasePublisher,
    pub(super) publishers: Mutex<HashMap<String, Publisher>>,
    pub(super) settings: RelaySettings,
    /// Events this process holds in memory (publishing, or published and not yet
    /// marked): the sweep must not publish them a second time.
    pub(super) owned: Mutex<HashSet<Uuid>>,
    /// Published at the given time, not yet marked in the table.
    pub(super) unmarked: Mutex<Vec<(Uuid, chrono::DateTime<chrono::Utc>)>>,
    /// Publish-before-response: events this process committed but could not publish
    /// (or publish and mark). The next commit, whatever it wrote, publishes them
    /// first, so that on a throttled CPU they wait for the service's next request
    /// rather than for a background pass that may never run.
    pub(super) failed: Mutex<HashSet<Uuid>>,
    /// Publish-before-response: what an earlier process left (it died between commit
    /// and publish) is swept once, at the first commit.
    pub(super) swept_at_start: AtomicBool,
}

impl RelayCore {
    pub(super) fn publisher_for(&self, topic: &str) -> Publisher {
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
    pub(super) async fn publish(&self, events: &[OutgoingEvent]) -> Vec<Result<(), String>> {
        let started = std::time::Instant::now();
        let timeout = self.settings.publish_timeout;
        let results = match tokio::time::timeout(timeout, self.publish_unbounded(events)).await {
            Ok(results) => results,
            Err(_) => {
                let error = format!("publish timed out after {timeout:?}");
                events.iter().map(|_| Err(error.clone())).collect()
            }
        };
        let service = self.outbox.service().name();
        metrics::histogram!("cartflow_outbox_publish_duration_seconds", "service" => service)
            .record(started.elapsed().as_secs_f64());
        let mut publishers = self.publishers.lock().expect("publisher map poisoned");
        for (event, result) in events.iter().zip(&results) {
            let labels = [
                ("service", service.to_string()),
                ("topic", event.topic.clone()),
            ];
            if result.is_err() {
                publishers.remove(&event.topic);
                metrics::counter!("cartflow_outbox_publish_errors_total", &labels).increment(1);
            } else {
                metrics::counter!("cartflow_outbox_published_total", &labels).increment(1);
            }
        }
        results
    }

    async fn publish_unbounded(&self, events: &[OutgoingEvent]) -> Vec<Result<(), String>> {
        let mut pending = Vec::with_capacity(events.len());
        let mut used = HashMap::new();
        // One span per traced event, open until its publish is confirmed.
        let mut spans = Vec::new();
        for event in events {
            let publisher = self.publisher_for(&event.topic);
            // No ordering key on the wire: every subscription is unordered (handlers do
            // not depend on order), and the SDK keeps a batching actor per key it has
            // ever seen, which it walks on every flush. With one key per cart and order
            // that cost grew with every checkout (measured: most of the services' CPU
            // and a growing RSS, BENCHMARKS.md). The key stays in the outbox row.
            let data = serde_json::to_vec(&event.payload).expect("JSON values serialise");
            let mut attributes = event.attributes.clone();
            if let Some(span) = publish_span(event) {
                // On the wire, the publish span's context: the consumer is its child.
                match trace_context::traceparent_of(&span) {
                    Some(own) => attributes.insert(trace_context::ATTRIBUTE.to_string(), own),
                    None => attributes.remove(trace_context::ATTRIBUTE),
                };
                spans.push(span);
            }
            let message = Message::new().set_data(data).set_attributes(attributes);
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
        drop(spans);
        results
    }

    /// Takes every handed-off event and publishes it; the successes wait for the next
    /// bulk mark, the failures are left to the sweep.
    pub(super) async fn publish_handed_off(&self) {
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

    /// Publish-before-response: publishes `events` and marks them before returning,
    /// after what earlier commits of this process could not publish (and, at the
    /// first commit, what an earlier process left). Failures are logged and kept for
    /// the next commit (and the background sweep); the caller's commit stands.
    pub(crate) async fn publish_inline(&self, events: Vec<OutgoingEvent>) {
        self.publish_leftovers().await;
        if events.is_empty() {
            return;
        }
        self.own(&events);
        let results = self.publish(&events).await;
        let now = chrono::Utc::now();
        let mut published = Vec::new();
        let mut unpublished = Vec::new();
        for (event, result) in events.iter().zip(results) {
            match result {
                Ok(()) => published.push((event.event_id, now)),
                Err(error) => {
                    unpublished.push(event.event_id);
                    tracing::warn!(event_id = %event.event_id, %error, "publish failed; the next commit or the sweep will retry");
                }
            }
        }
        if self.settings.background {
            // The background relay marks them in bulk, as it does the handed-off ones:
            // one statement for many requests instead of a commit per request. A crash
            // before the mark publishes them again, and the consumers' inboxes skip the
            // copy. Until marked they stay owned, so the sweep does not take them.
            self.unmarked
                .lock()
                .expect("relay state poisoned")
                .extend(published);
            self.disown(unpublished.iter().copied());
            self.failed
                .lock()
                .expect("relay state poisoned")
                .extend(unpublished);
            self.outbox.shared().handed_off.notify_one();
            return;
        }
        if let Err(err) = self.mark(&published).await {
            // Published but not marked: they go out again, and the consumers' inboxes
            // skip the copy.
            tracing::warn!(error = %err, "cannot mark published events");
            unpublished.extend(published.iter().map(|(id, _)| *id));
        }
        self.failed
            .lock()
            .expect("relay state poisoned")
            .extend(unpublished);
        self.disown(events.iter().map(|e| e.event_id));
    }

    /// Whether a commit that wrote no events must still call [`Self::publish_inline`].
    pub(crate) fn has_leftovers(&self) -> bool {
        !self.swept_at_start.load(Ordering::Relaxed)
            || !self.failed.lock().expect("relay state poisoned").is_empty()
    }

    /// Publishes (one batch of) this process's failed events, and at the first call
    /// one batch of what an earlier process left: rows older than `sweep_grace`, so
    /// that nothing another replica is still publishing is taken.
    async fn publish_leftovers(&self) {
        if !self.swept_at_start.swap(true, Ordering::Relaxed) {
            match self.sweep_once(self.settings.sweep_grace, None).await {
                Ok(report) if report.published > 0 => {
                    tracing::info!(
                        published = report.published,
                        "an earlier process's leftovers published"
                    )
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "outbox sweep at start failed; the background sweep retries"
                    )
                }
            }
        }
        let ids: Vec<Uuid> = {
            let failed = self.failed.lock().expect("relay state poisoned");
            failed
                .iter()
                .take(self.settings.batch_size as usize)
                .copied()
                .collect()
        };
        if ids.is_empty() {
            return;
        }
        match self.sweep_once(std::time::Duration::ZERO, Some(&ids)).await {
            Ok(report) if report.failed == 0 => {
                let mut failed = self.failed.lock().expect("relay state poisoned");
                for id in &ids {
                    failed.remove(id);
                }
                tracing::info!(
                    published = report.published,
                    "leftovers of earlier requests published"
                );
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "publishing leftovers failed; kept for the next commit"
                )
            }
        }
    }

    pub(super) fn own(&self, events: &[OutgoingEvent]) {
        let mut owned = self.owned.lock().expect("relay state poisoned");
        owned.extend(events.iter().map(|e| e.event_id));
    }

    pub(super) fn disown(&self, ids: impl Iterator<Item = Uuid>) {
        let mut owned = self.owned.lock().expect("relay state poisoned");
        for id in ids {
            owned.remove(&id);
        }
    }

    pub(super) fn has_unmarked(&self) -> bool {
        !self
            .unmarked
            .lock()
            .expect("relay state poisoned")
            .is_empty()
    }

    /// Marks everything published since the last mark, in one statement.
    pub(super) async fn mark_unmarked(&self) {
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

    pub(super) async fn mark(
        &self,
        published: &[(Uuid, chrono::DateTime<chrono::Utc>)],
    ) -> sqlx::Result<()> {
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
}

/// The span of publishing `event`, continuing the trace its outbox row recorded; none
/// for an event written without one (tracing off then, or an older row).
fn publish_span(event: &OutgoingEvent) -> Option<tracing::Span> {
    let parent = event.attributes.get(trace_context::ATTRIBUTE)?;
    if !trace_context::enabled() {
        return None;
    }
    let span = tracing::info_span!("publish",
        otel.name = format!("{} publish", event.topic),
        otel.kind = "producer",
        event_id = %event.event_id,
        topic = %event.topic,
        correlation_id = event.attributes.get("correlation_id").map(String::as_str));
    trace_context::set_parent(&span, Some(parent));
    Some(span)
}

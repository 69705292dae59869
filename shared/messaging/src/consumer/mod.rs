//! The one way every service consumes events.
//!
//! Messages are applied in batches: what the stream has already delivered when a
//! worker is free (a pull never waits for company, so a lone message at low load goes
//! at once; pushes wait up to `gather_window`), up to `batch_size`, in ONE database transaction. Each message is decoded
//! once, into the service's message type ([`EventHandler::decode`]); then, in the
//! transaction, `(event_id, service)` of every message recorded in
//! `processed_messages` with one statement, and the service's handler called once with
//! the first deliveries ([`EventHandler::handle_batch`], which changes state and may
//! stage events in the same transaction). A single message is a batch of one. Then one
//! commit for the whole batch, then the acks. Pushed messages (one per HTTP request) join the same
//! batches through [`Gatherer`], across a service's subscriptions, and go through the
//! same [`Consumer::deliver_gathered`]; their requests are the acks.
//!
//! - A duplicate (same `event_id` already recorded) is counted and acked; the handler
//!   does not run. Concurrent duplicates serialise on the primary key; a batch applies
//!   its messages in event-id order, so two batches holding copies of the same events
//!   take those keys in the same order.
//! - A message whose handling fails is rolled back alone and nacked; the rest of the
//!   batch commits. (If the handler's call fails, the batch is applied again message by
//!   message, each in a savepoint; see [`Consumer::apply_batch`].) A failed commit nacks
//!   the whole batch: Pub/Sub redelivers every message of it, and the inbox makes the
//!   retry exact.
//! - A message that can never succeed (bad envelope, unknown type or version, body that
//!   does not parse or that the handler's decode refuses) is logged with its ids and
//!   nacked without joining the batch, so the subscription's dead-letter policy moves it
//!   aside after its delivery budget; other messages keep flowing.
//! - A crash after commit but before ack means a redelivery, which is a duplicate.

mod apply;
mod failures;
mod gather;
mod handler;
mod series;

pub use gather::{Gatherer, Pushed};

pub use handler::{
    AnyHandler, Applied, Batch, Decoded, Delivery, EventHandler, HandlerError, Incoming, Item,
    Outcome, Run,
};

use crate::PubSubConfig;
use crate::outbox::Outbox;
use crate::trace_context;
use apply::consume_span;
use cartflow_events::Envelope;
use failures::{Failure, judge};
use futures::FutureExt;
use google_cloud_pubsub::client::Subscriber;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
use series::ConsumerMetrics;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Batches (transactions) in flight at once per subscription.
    pub max_concurrency: usize,
    /// Most messages applied in one transaction. At most [`MAX_BATCH_SIZE`].
    pub batch_size: usize,
    /// Messages the server may hand this stream before acks (flow control).
    pub max_outstanding_messages: i64,
    /// How far each lease extension reaches: after a crash, the messages the dead
    /// process held go to another consumer once this runs out. The SDK's default is
    /// 60 s; 10 s (Pub/Sub's minimum) makes a crashed consumer's checkouts resume ~6×
    /// sooner for one extra lease call per held message every few seconds.
    pub lease_extension: Duration,
    /// Push delivery only: how long a free worker waits for more pushes to join a
    /// batch, from the first one's arrival (zero: a push goes to a free worker at once).
    pub gather_window: Duration,
}

/// A batch applied again after a failure runs each message in a savepoint, and
/// PostgreSQL caches 64 subtransaction ids per transaction: past that, every session's visibility checks start reading
/// `pg_subtrans` (the "subtransaction overflow" slowdown). Batches stay below it.
pub const MAX_BATCH_SIZE: usize = 64;

/// Push delivery's gathering window by default. Measured (BENCHMARKS.md, stop 51): with
/// none, a burst of pushes took a free worker each, so push committed 8 times per
/// checkout where pull commits 4.5; with 5 ms, 5 times, at about a third more throughput.
pub const DEFAULT_GATHER_WINDOW: Duration = Duration::from_millis(5);

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            max_concurrency: 4,
            batch_size: 50,
            max_outstanding_messages: 200,
            lease_extension: Duration::from_secs(10),
            gather_window: DEFAULT_GATHER_WINDOW,
        }
    }
}

/// Consumes one subscription for one service until shut down.
#[derive(Clone)]
pub struct Consumer {
    outbox: Outbox,
    handler: Arc<dyn AnyHandler>,
    subscription: String,
    metrics: Arc<ConsumerMetrics>,
    settings: ConsumerSettings,
    /// Bumped when Pub/Sub came back (an emulator restart): open the stream again now.
    reopen: Option<watch::Receiver<u64>>,
    /// Batches of more than one message that the one-go try could not apply, so they
    /// were applied again with a savepoint per message (also a Prometheus counter).
    fallbacks: Arc<std::sync::atomic::AtomicU64>,
}

impl Consumer {
    pub fn new(
        outbox: Outbox,
        handler: Arc<dyn AnyHandler>,
        config: &PubSubConfig,
        subscription: &str,
        settings: ConsumerSettings,
    ) -> Self {
        let service = outbox.service();
        Consumer {
            outbox,
            handler,
            subscription: config.subscription_path(subscription),
            metrics: Arc::new(ConsumerMetrics::new(service, subscription)),
            settings,
            reopen: None,
            fallbacks: Arc::default(),
        }
    }

    /// How many batches (of more than one message) this consumer has applied again
    /// message by message because the one-go try failed. Tests that mean the one-go
    /// path assert it stays 0: both paths answer `Processed`.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Re-opens the stream whenever `signal` changes. For the emulator, whose restart
    /// the services ride out: the SDK retries a stream that lost its server by itself,
    /// but with a backoff that grows ×4 up to 60 s while the server is away, so without
    /// this a subscription could sit idle for a minute after the topology is back
    /// (seen: 19 s, and over 30 s on a busy machine).
    pub fn reopen_on(mut self, signal: watch::Receiver<u64>) -> Self {
        self.reopen = Some(signal);
        self
    }

    /// The full name of the subscription this consumer serves.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// Pulls and processes until `shutdown`; then stops pulling, finishes in-flight
    /// batches and flushes their acks. A broken stream is re-opened with backoff.
    ///
    /// Batches form only under load: a message goes to a free worker at once, together
    /// with whatever else the stream has already received; messages wait only while
    /// every worker is busy, and the next free worker takes them all (up to the size).
    pub async fn run(self, subscriber: Subscriber, shutdown: CancellationToken) {
        let service = self.outbox.service();
        let batch_size = self.settings.batch_size.clamp(1, MAX_BATCH_SIZE);
        let max_waiting = batch_size * self.settings.max_concurrency.max(1);
        let mut backoff = Duration::from_millis(100);
        let mut reopen = self.reopen.clone();
        loop {
            let mut stream = subscriber
                .subscribe(&self.subscription)
                .set_max_outstanding_messages(self.settings.max_outstanding_messages)
                .set_max_lease_extension(self.settings.lease_extension)
                .build();
            let token = stream.shutdown_token();
            let mut in_flight = JoinSet::new();
            let mut waiting: VecDeque<(Message, Handler)> = VecDeque::new();
            tracing::debug!(%service, subscription = %self.subscription, "streaming pull opened");
            let stopping = loop {
                while in_flight.len() < self.settings.max_concurrency && !waiting.is_empty() {
                    let batch: Vec<_> = waiting.drain(..waiting.len().min(batch_size)).collect();
                    let this = self.clone();
                    in_flight.spawn(async move { this.process(batch).await });
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break true,
                    Ok(()) = changed(&mut reopen) => {
                        tracing::info!(%service, subscription = %self.subscription, "Pub/Sub is back; re-opening the stream");
                        backoff = Duration::ZERO;
                        break false;
                    }
                    Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                    next = stream.next(), if waiting.len() < max_waiting => match next {
                        Some(Ok(delivered)) => {
                            backoff = Duration::from_millis(100);
                            waiting.push_back(delivered);
                            // Take what the stream already holds (a pull response carries
                            // many messages) without waiting for more.
                            while waiting.len() < max_waiting {
                                match stream.next().now_or_never() {
                                    Some(Some(Ok(delivered))) => waiting.push_back(delivered),
                                    _ => break,
                                }
                            }
                        }
                        Some(Err(err)) => {
                            tracing::warn!(%service, subscription = %self.subscription, error = %err, "streaming pull failed; re-subscribing");
                            break false;
                        }
                        None => break false,
                    },
                }
            };
            // Not started: back to Pub/Sub at once rather than after the lease.
            for (_, ack) in waiting.drain(..) {
                ack.nack();
            }
            while in_flight.join_next().await.is_some() {}
            token.shutdown().await;
            if stopping {
                return;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                Ok(()) = changed(&mut reopen) => backoff = Duration::ZERO,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(10));
        }
    }

    /// Processes pulled messages as one batch, then acks or nacks each.
    pub async fn process(&self, batch: Vec<(Message, Handler)>) -> Vec<Outcome> {
        let deliveries: Vec<_> = batch
            .iter()
            .map(|(message, ack)| Delivery::pulled(message, ack))
            .collect();
        let outcomes = self.deliver_batch(&deliveries).await;
        for ((_, ack), outcome) in batch.into_iter().zip(&outcomes) {
            if outcome.is_done() {
                ack.ack();
            } else {
                ack.nack();
            }
        }
        outcomes
    }

    /// Processes one delivered message, however it arrived (streaming pull or push).
    /// The caller acks when the outcome [`Outcome::is_done`], and nacks otherwise.
    pub async fn deliver(&self, delivery: Delivery<'_>) -> Outcome {
        self.deliver_batch(&[delivery]).await[0]
    }

    /// Processes delivered messages as one batch; one outcome per delivery, in order.
    pub async fn deliver_batch(&self, deliveries: &[Delivery<'_>]) -> Vec<Outcome> {
        Consumer::deliver_gathered(&vec![self; deliveries.len()], deliveries).await
    }

    /// Processes delivered messages as one batch, each delivered to the consumer at its
    /// position in `consumers` (consumers of one service: one handler, one outbox; a
    /// pushed batch gathers several subscriptions). One outcome per delivery, in order.
    pub async fn deliver_gathered(
        consumers: &[&Consumer],
        deliveries: &[Delivery<'_>],
    ) -> Vec<Outcome> {
        assert_eq!(
            consumers.len(),
            deliveries.len(),
            "one consumer per delivery"
        );
        let Some(this) = consumers.first() else {
            return Vec::new();
        };
        debug_assert!(
            consumers
                .iter()
                .all(|c| Arc::ptr_eq(&c.handler, &this.handler)),
            "a batch belongs to one handler"
        );
        let service = this.outbox.service();
        let mut outcomes = vec![Outcome::Rejected; deliveries.len()];
        let mut failures = Vec::new();
        // (index in `deliveries`, the parsed event)
        let mut readable = Vec::with_capacity(deliveries.len());
        for (index, delivery) in deliveries.iter().enumerate() {
            let (message_id, attempt) = (delivery.message_id, delivery.attempt);
            match Envelope::from_attributes(delivery.attributes) {
                Ok(envelope) => readable.push((
                    index,
                    Incoming {
                        envelope,
                        data: delivery.data.to_vec(),
                        trace_parent: delivery.attributes.get(trace_context::ATTRIBUTE).cloned(),
                    },
                )),
                Err(err) => {
                    tracing::warn!(%service, %message_id, ?attempt, error = %err,
                        "bad envelope; leaving the message to the dead-letter policy");
                    failures.push(Failure {
                        envelope: None,
                        message_id: message_id.to_string(),
                        rejected: true,
                        error: err.to_string(),
                    });
                }
            }
        }
        if !readable.is_empty() {
            let batch: Vec<&Incoming> = readable.iter().map(|(_, incoming)| incoming).collect();
            let spans: Vec<tracing::Span> = readable
                .iter()
                .map(|(index, incoming)| {
                    let span = consume_span(service, incoming);
                    span.record("message_id", deliveries[*index].message_id);
                    span
                })
                .collect();
            let started = std::time::Instant::now();
            let applied = this.apply_batch_in(&batch, &spans).await;
            this.metrics
                .batch_seconds
                .record(started.elapsed().as_secs_f64());
            for (((index, incoming), result), span) in readable.iter().zip(applied).zip(&spans) {
                let delivery = &deliveries[*index];
                let (outcome, failure) = judge(span, incoming, delivery, result, batch.len());
                if outcome == Outcome::Processed {
                    // Producer's commit → consumed here: the saga's latency per hop.
                    let age = chrono::Utc::now() - incoming.envelope.occurred_at;
                    consumers[*index]
                        .metrics
                        .event_age_seconds
                        .record(age.as_seconds_f64().max(0.0));
                }
                outcomes[*index] = outcome;
                failures.extend(failure);
            }
        }
        for ((consumer, delivery), outcome) in consumers.iter().zip(deliveries).zip(&outcomes) {
            consumer.metrics.outcome(delivery, *outcome);
        }
        for failure in failures {
            this.record_failure(failure).await;
        }
        outcomes
    }
}

/// Waits for the reopen signal; pending forever without one, an error once its
/// sender is gone (a `select!` branch matching `Ok` is then disabled).
async fn changed(signal: &mut Option<watch::Receiver<u64>>) -> Result<(), watch::error::RecvError> {
    match signal {
        Some(signal) => signal.changed().await,
        None => std::future::pending().await,
    }
}

//! The one way every service consumes events.
//!
//! For each message: parse the envelope, open a transaction, record
//! `(event_id, service)` in `processed_messages`, run the service's handler (which
//! changes state and may stage events in the same transaction), commit, then ack.
//!
//! - A duplicate (same `event_id` already recorded) is counted and acked; the handler
//!   does not run. Concurrent duplicates serialise on the primary key.
//! - A transient failure (database down, deadlock) rolls back and nacks: Pub/Sub
//!   redelivers after the subscription's retry backoff.
//! - A message that can never succeed (bad envelope, unknown type or version, body that
//!   does not parse) is logged with its ids and nacked, so the subscription's dead-letter
//!   policy moves it aside after its delivery budget; other messages keep flowing.
//! - A crash after commit but before ack means a redelivery, which is a duplicate.

use crate::PubSubConfig;
use crate::outbox::{Cause, Outbox, Tx};
use async_trait::async_trait;
use cartflow_events::{Envelope, Event, Topic};
use google_cloud_pubsub::client::Subscriber;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Why a handler did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never be processed; it is left to the dead-letter policy.
    #[error("unprocessable message: {0}")]
    Poison(String),
    /// Something outside the message failed; it is retried.
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        HandlerError::Transient(err.into())
    }
}

/// A received event whose envelope parsed.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub envelope: Envelope,
    pub data: Vec<u8>,
}

impl Incoming {
    /// The topic this event's type names, if it is one cartflow knows.
    pub fn topic(&self) -> Option<Topic> {
        Topic::from_name(&self.envelope.event_type)
    }

    /// The cause to give events emitted in reaction to this one.
    pub fn cause(&self) -> Cause {
        Cause::event(&self.envelope)
    }

    /// Parses the body as `E`, checking type and version first.
    pub fn decode<E: Event>(&self) -> Result<E, HandlerError> {
        if self.envelope.event_type != E::TOPIC.name() {
            return Err(HandlerError::Poison(format!(
                "expected event type {}, got {}",
                E::TOPIC,
                self.envelope.event_type
            )));
        }
        if self.envelope.event_version != E::VERSION {
            return Err(HandlerError::Poison(format!(
                "unsupported version {} of {}",
                self.envelope.event_version, self.envelope.event_type
            )));
        }
        serde_json::from_slice(&self.data)
            .map_err(|e| HandlerError::Poison(format!("malformed {} body: {e}", E::TOPIC)))
    }

    /// The error for an event type this handler does not consume.
    pub fn unexpected(&self) -> HandlerError {
        HandlerError::Poison(format!(
            "unexpected event type {} version {}",
            self.envelope.event_type, self.envelope.event_version
        ))
    }
}

/// A service's reaction to the events it consumes. Runs inside the consumer's
/// transaction: write through `tx.conn()`, emit with `tx.publish(..)`.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError>;
}

#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Messages processed at once per subscription.
    pub max_concurrency: usize,
    /// Messages the server may hand this stream before acks (flow control).
    pub max_outstanding_messages: i64,
    /// How far each lease extension reaches: after a crash, the messages the dead
    /// process held go to another consumer once this runs out. The SDK's default is
    /// 60 s; 10 s (Pub/Sub's minimum) makes a crashed consumer's checkouts resume ~6×
    /// sooner for one extra lease call per held message every few seconds.
    pub lease_extension: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            max_concurrency: 16,
            max_outstanding_messages: 200,
            lease_extension: Duration::from_secs(10),
        }
    }
}

/// A failed attempt, for the failure log.
struct Failure<'a> {
    envelope: Option<&'a Envelope>,
    message_id: &'a str,
    /// Can never succeed (as opposed to: may succeed on a retry).
    rejected: bool,
}

/// What happened to one message; returned for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    Duplicate,
    Rejected,
    Failed,
}

impl Outcome {
    /// Whether the message is finished with (ack it) rather than to be redelivered (nack).
    pub fn is_done(self) -> bool {
        matches!(self, Outcome::Processed | Outcome::Duplicate)
    }
}

/// One delivered message, as streaming pull or a push request hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub message_id: &'a str,
    pub attributes: &'a std::collections::HashMap<String, String>,
    pub data: &'a [u8],
    /// Which delivery this is (1 = first), when the subscription has a dead-letter policy.
    pub attempt: Option<i32>,
}

/// Consumes one subscription for one service until shut down.
#[derive(Clone)]
pub struct Consumer {
    outbox: Outbox,
    handler: Arc<dyn EventHandler>,
    subscription: String,
    settings: ConsumerSettings,
}

impl Consumer {
    pub fn new(
        outbox: Outbox,
        handler: Arc<dyn EventHandler>,
        config: &PubSubConfig,
        subscription: &str,
        settings: ConsumerSettings,
    ) -> Self {
        Consumer {
            outbox,
            handler,
            subscription: config.subscription_path(subscription),
            settings,
        }
    }

    /// The full name of the subscription this consumer serves.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// Pulls and processes until `shutdown`; then stops pulling, finishes in-flight
    /// messages and flushes their acks. A broken stream is re-opened with backoff.
    pub async fn run(self, subscriber: Subscriber, shutdown: CancellationToken) {
        let service = self.outbox.service();
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut stream = subscriber
                .subscribe(&self.subscription)
                .set_max_outstanding_messages(self.settings.max_outstanding_messages)
                .set_max_lease_extension(self.settings.lease_extension)
                .build();
            let token = stream.shutdown_token();
            let mut in_flight = JoinSet::new();
            tracing::debug!(%service, subscription = %self.subscription, "streaming pull opened");
            let stopping = loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break true,
                    Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                    next = stream.next() => match next {
                        Some(Ok((message, ack))) => {
                            backoff = Duration::from_millis(100);
                            while in_flight.len() >= self.settings.max_concurrency {
                                in_flight.join_next().await;
                            }
                            let this = self.clone();
                            in_flight.spawn(async move { this.process(message, ack).await });
                        }
                        Some(Err(err)) => {
                            tracing::warn!(%service, subscription = %self.subscription, error = %err, "streaming pull failed; re-subscribing");
                            break false;
                        }
                        None => break false,
                    },
                }
            };
            while in_flight.join_next().await.is_some() {}
            token.shutdown().await;
            if stopping {
                return;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Processes one pulled message and acks or nacks it.
    pub async fn process(&self, message: Message, ack: Handler) -> Outcome {
        let delivery = Delivery {
            message_id: &message.message_id,
            attributes: &message.attributes,
            data: &message.data,
            attempt: ack.delivery_attempt(),
        };
        let outcome = self.deliver(delivery).await;
        if outcome.is_done() {
            ack.ack();
        } else {
            ack.nack();
        }
        outcome
    }

    /// Processes one delivered message, however it arrived (streaming pull or push).
    /// The caller acks when the outcome [`Outcome::is_done`], and nacks otherwise.
    pub async fn deliver(&self, delivery: Delivery<'_>) -> Outcome {
        let service = self.outbox.service();
        let Delivery {
            message_id,
            attempt,
            ..
        } = delivery;
        let envelope = match Envelope::from_attributes(delivery.attributes) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(%service, %message_id, ?attempt, error = %err,
                    "bad envelope; leaving the message to the dead-letter policy");
                let failure = Failure {
                    envelope: None,
                    message_id,
                    rejected: true,
                };
                self.record_failure(failure, &err.to_string()).await;
                return Outcome::Rejected;
            }
        };
        let incoming = Incoming {
            envelope,
            data: delivery.data.to_vec(),
        };
        let span = tracing::info_span!("consume", %service,
            event_id = %incoming.envelope.event_id,
            event_type = %incoming.envelope.event_type,
            correlation_id = %incoming.envelope.correlation_id,
            %message_id);
        let result = self.apply(&incoming).instrument(span.clone()).await;
        let _in_span = span.enter();
        let (outcome, reason) = match result {
            Ok(Outcome::Duplicate) => {
                tracing::info!("duplicate delivery skipped");
                return Outcome::Duplicate;
            }
            Ok(outcome) => {
                tracing::debug!("processed");
                return outcome;
            }
            Err(HandlerError::Poison(reason)) => {
                tracing::warn!(?attempt, %reason, "unprocessable; leaving the message to the dead-letter policy");
                (Outcome::Rejected, reason)
            }
            Err(HandlerError::Transient(err)) => {
                let error = format!("{err:#}");
                tracing::warn!(?attempt, %error, "processing failed; will be redelivered");
                (Outcome::Failed, error)
            }
        };
        let failure = Failure {
            envelope: Some(&incoming.envelope),
            message_id,
            rejected: outcome == Outcome::Rejected,
        };
        self.record_failure(failure, &reason).await;
        outcome
    }

    /// Logs a failed attempt in `message_failures`, in a transaction of its own (the
    /// handler's was rolled back). Best effort: with the database down it only logs.
    async fn record_failure(&self, failure: Failure<'_>, error: &str) {
        let envelope = failure.envelope;
        let key = envelope.map_or_else(
            || failure.message_id.to_string(),
            |e| e.event_id.to_string(),
        );
        let recorded = sqlx::query(
            "INSERT INTO message_failures
                 (failure_key, service, event_id, event_type, correlation_id, message_id, kind, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (failure_key, service) DO UPDATE
             SET attempts = message_failures.attempts + 1, kind = EXCLUDED.kind,
                 last_error = EXCLUDED.last_error, message_id = EXCLUDED.message_id, last_failed_at = now()",
        )
        .bind(key)
        .bind(self.outbox.service().name())
        .bind(envelope.map(|e| e.event_id))
        .bind(envelope.map(|e| e.event_type.as_str()))
        .bind(envelope.map(|e| e.correlation_id.as_str()))
        .bind(failure.message_id)
        .bind(if failure.rejected { "rejected" } else { "failing" })
        .bind(error.chars().take(2000).collect::<String>())
        .execute(self.outbox.pool())
        .await;
        if let Err(err) = recorded {
            tracing::warn!(error = %err, "could not record the failure");
        }
    }

    /// Records the event, runs the handler and commits, all in one transaction.
    pub async fn apply(&self, incoming: &Incoming) -> Result<Outcome, HandlerError> {
        let mut tx = self.outbox.begin().await?;
        // `xmax = 0` is true only for a freshly inserted row; a conflict updates the
        // existing row (counting the duplicate) and returns false.
        let first_time: bool = sqlx::query_scalar(
            "INSERT INTO processed_messages (event_id, service, event_type, correlation_id)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (event_id, service)
             DO UPDATE SET duplicate_deliveries = processed_messages.duplicate_deliveries + 1
             RETURNING (xmax = 0)",
        )
        .bind(incoming.envelope.event_id)
        .bind(self.outbox.service().name())
        .bind(&incoming.envelope.event_type)
        .bind(&incoming.envelope.correlation_id)
        .fetch_one(tx.conn())
        .await?;
        if !first_time {
            tx.commit().await?;
            return Ok(Outcome::Duplicate);
        }
        self.handler.handle(&mut tx, incoming).await?;
        tx.commit().await?;
        Ok(Outcome::Processed)
    }
}

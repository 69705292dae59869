//! What a service's handler sees and returns: the received event, the handler trait,
//! its errors, and what became of each delivered message.

use crate::outbox::{Cause, Tx};
use async_trait::async_trait;
use cartflow_events::{Envelope, Event, Topic};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
use std::any::Any;
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
    /// The producer's trace context (`googclient_traceparent`), if it sent one.
    pub trace_parent: Option<String>,
}

impl Incoming {
    pub fn new(envelope: Envelope, data: Vec<u8>) -> Self {
        Incoming {
            envelope,
            data,
            trace_parent: None,
        }
    }

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

/// A service's reaction to the events it consumes: each delivered event is decoded
/// once into the service's [`EventHandler::Message`], and the messages of a batch are
/// applied with one call, [`EventHandler::handle_batch`], inside the consumer's
/// transaction (write through `tx.conn()`, emit with [`Item::publish`]). A single
/// message is a batch of one: there is no second path.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// What the service consumes, decoded (usually an enum with a variant per topic).
    type Message: Send + Sync + 'static;

    /// Reads a delivered event, before its batch's transaction begins. An event this
    /// refuses (unknown type, bad body, a request that can never be served) is
    /// rejected alone, left to the dead-letter policy; it never joins the batch.
    fn decode(&self, event: &Incoming) -> Result<Self::Message, HandlerError>;

    /// Runs first in each batch's transaction, with every message of the batch
    /// (duplicates too). A handler whose messages lock rows that other batches lock
    /// too takes those locks here, all at once in one global order: a batch then never
    /// holds some of them while waiting for another batch that holds the rest (a
    /// deadlock). Its statements in `handle_batch` begin after these locks and see
    /// what their last holder committed.
    async fn lock_batch(
        &self,
        _tx: &mut Tx,
        _batch: &Batch<'_, Self::Message>,
    ) -> Result<(), HandlerError> {
        Ok(())
    }

    /// Applies a batch's first deliveries (recorded in the inbox by this transaction),
    /// in event-id order, as if one after another: what it does to each message must
    /// not depend on which others share its batch, except through the order (a
    /// handler may apply consecutive messages of one kind with one statement,
    /// [`Batch::runs_of`]). If it fails, the transaction is rolled back and the consumer
    /// applies each message again as a batch of one, inside a savepoint, so that the
    /// failing message alone is rolled back and refused.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, Self::Message>,
    ) -> Result<(), HandlerError>;
}

/// A decoded message whose type the consumer does not know ([`AnyHandler`]).
pub type Decoded = Box<dyn Any + Send + Sync>;

/// What the consumer holds: an [`EventHandler`] with its message type erased, so that
/// consumers of different services share one type. Implemented for every
/// `EventHandler`; nothing else implements it.
#[async_trait]
pub trait AnyHandler: Send + Sync + 'static {
    fn decode_any(&self, event: &Incoming) -> Result<Decoded, HandlerError>;
    async fn lock_any(&self, tx: &mut Tx, batch: &Batch<'_, Decoded>) -> Result<(), HandlerError>;
    async fn handle_any(&self, tx: &mut Tx, batch: &Batch<'_, Decoded>)
    -> Result<(), HandlerError>;
}

#[async_trait]
impl<H: EventHandler> AnyHandler for H {
    fn decode_any(&self, event: &Incoming) -> Result<Decoded, HandlerError> {
        Ok(Box::new(self.decode(event)?))
    }

    async fn lock_any(&self, tx: &mut Tx, batch: &Batch<'_, Decoded>) -> Result<(), HandlerError> {
        self.lock_batch(tx, &batch.downcast()).await
    }

    async fn handle_any(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, Decoded>,
    ) -> Result<(), HandlerError> {
        self.handle_batch(tx, &batch.downcast()).await
    }
}

/// Messages applied in one transaction, in event-id order, each with the event it was
/// decoded from and the span its handling belongs to.
pub struct Batch<'a, M> {
    items: Vec<(&'a M, &'a Incoming, tracing::Span)>,
}

impl<M> Clone for Batch<'_, M> {
    fn clone(&self) -> Self {
        Batch {
            items: self.items.clone(),
        }
    }
}

impl<'a, M> Batch<'a, M> {
    /// A batch of these messages, one span each.
    pub(crate) fn new(items: Vec<(&'a M, &'a Incoming, tracing::Span)>) -> Self {
        Batch { items }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The messages, in order.
    pub fn iter(&self) -> impl Iterator<Item = Item<'_, M>> {
        self.items.iter().map(|(message, event, span)| Item {
            message: *message,
            event,
            span,
        })
    }

    /// The batch's `i`-th message.
    pub fn get(&self, i: usize) -> Item<'_, M> {
        let (message, event, span) = &self.items[i];
        Item {
            message: *message,
            event,
            span,
        }
    }

    /// The batch cut, in order, into runs of consecutive messages that `pick` takes
    /// (each with what it took of it) and runs of those it does not: a handler applies
    /// a picked run with one statement or two and the rest one by one, and the batch
    /// still reads as applied one message after another.
    pub fn runs_of<T: ?Sized>(&self, pick: impl Fn(&'a M) -> Option<&'a T>) -> Vec<Run<'a, M, T>> {
        let mut runs: Vec<Run<'a, M, T>> = Vec::new();
        for item in &self.items {
            let one = || Batch {
                items: vec![item.clone()],
            };
            match (pick(item.0), runs.last_mut()) {
                (Some(taken), Some(Run::Picked(run, picked))) => {
                    run.items.push(item.clone());
                    picked.push(taken);
                }
                (Some(taken), _) => runs.push(Run::Picked(one(), vec![taken])),
                (None, Some(Run::Rest(run))) => run.items.push(item.clone()),
                (None, _) => runs.push(Run::Rest(one())),
            }
        }
        runs
    }
}

/// A run of a [`Batch`], from [`Batch::runs_of`].
pub enum Run<'a, M, T: ?Sized> {
    /// Consecutive messages the pick took, and what it took of each (in order).
    Picked(Batch<'a, M>, Vec<&'a T>),
    /// Consecutive messages it did not take.
    Rest(Batch<'a, M>),
}

impl<'a> Batch<'a, Decoded> {
    /// The same batch, typed: every message was decoded by the handler it goes to.
    fn downcast<M: 'static>(&self) -> Batch<'a, M> {
        Batch {
            items: self
                .items
                .iter()
                .map(|(message, event, span)| {
                    let message: &'a Decoded = message;
                    let message = message
                        .as_ref()
                        .downcast_ref::<M>()
                        .expect("a batch goes to the handler that decoded it");
                    (message, *event, span.clone())
                })
                .collect(),
        }
    }
}

/// One message of a [`Batch`].
pub struct Item<'b, M> {
    pub message: &'b M,
    /// The event it was decoded from (its envelope: ids, saga, time).
    pub event: &'b Incoming,
    span: &'b tracing::Span,
}

impl<M> Item<'_, M> {
    /// Makes `tx` act for this message: what [`Tx::publish`] stages from now on is
    /// caused by it (same saga).
    pub fn act_for(&self, tx: &mut Tx) {
        tx.set_cause(self.event.cause());
    }

    /// The span of this message's handling: work done for it runs in it, so that what
    /// it reads of the current trace (`trace_context::current`) is this message's.
    pub fn span(&self) -> tracing::Span {
        self.span.clone()
    }

    /// Runs `f` in this message's span.
    pub fn in_span<R>(&self, f: impl FnOnce() -> R) -> R {
        self.span.in_scope(f)
    }

    /// Records what handling this message did, in a line, beside its inbox record
    /// (rolled back with it): the saga's timeline shows it. For what the events it
    /// publishes do not say, such as a compensation.
    pub async fn note(&self, tx: &mut Tx, note: &str) -> sqlx::Result<()> {
        tx.note(self.event.envelope.event_id, note).await
    }

    /// Stages `event` as caused by this message: same saga, and the trace of its
    /// handling.
    pub async fn publish<E: Event>(&self, tx: &mut Tx, event: &E) -> anyhow::Result<uuid::Uuid> {
        tx.publish_caused_by(&self.event.cause(), event)
            .instrument(self.span.clone())
            .await
    }
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

impl<'a> Delivery<'a> {
    pub(super) fn pulled(message: &'a Message, ack: &Handler) -> Self {
        Delivery {
            message_id: &message.message_id,
            attributes: &message.attributes,
            data: &message.data,
            attempt: ack.delivery_attempt(),
        }
    }
}

/// What applying one message of a batch came to.
pub type Applied = Result<Outcome, HandlerError>;

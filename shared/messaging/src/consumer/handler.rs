//! What a service's handler sees and returns: the received event, the handler trait,
//! its errors, and what became of each delivered message.

use crate::outbox::{Cause, Tx};
use async_trait::async_trait;
use cartflow_events::{Envelope, Event, Topic};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
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

/// A service's reaction to the events it consumes. Runs inside the consumer's
/// transaction: write through `tx.conn()`, emit with `tx.publish(..)`.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError>;

    /// Runs once per batch, in its transaction, before any message of it is applied.
    /// A handler whose messages lock rows that other batches lock too takes those locks
    /// here, all at once in one global order: a batch then never holds some of them
    /// while waiting for another batch that holds the rest (a deadlock). Messages that
    /// do not decode are skipped here; applying them reports the error. It runs for a
    /// batch of one too, so a handler may rely on these locks when it reads: its
    /// statements begin after them and see what the lock's last holder committed.
    async fn lock_batch(&self, _tx: &mut Tx, _batch: &[&Incoming]) -> Result<(), HandlerError> {
        Ok(())
    }

    /// Applies, with a statement or two for all of them, the events of a batch that the
    /// handler can apply together ([`Together::pick`]); returns, per event, whether it
    /// did ([`Together::taken`]). `handle` applies
    /// the others, one by one. `batch.events()` are first deliveries (recorded in the
    /// inbox), in event-id order; what this does to each must be what `handle` would,
    /// and not depend on the batch's other events. What an event causes is published
    /// with [`Together::publish`], which gives it that event's cause and trace (`tx`
    /// has no cause of its own here). Runs only on a batch's first try: if it fails,
    /// the batch is applied again with a savepoint per message, through `handle`.
    async fn handle_together(
        &self,
        _tx: &mut Tx,
        batch: &Together<'_>,
    ) -> Result<Vec<bool>, HandlerError> {
        Ok(vec![false; batch.events().len()])
    }
}

/// What [`EventHandler::handle_together`] is given: a batch's first deliveries, each
/// with the span its handling belongs to.
pub struct Together<'a> {
    events: Vec<&'a Incoming>,
    spans: Vec<tracing::Span>,
}

impl<'a> Together<'a> {
    /// One span per event.
    pub(crate) fn new(events: Vec<&'a Incoming>, spans: Vec<tracing::Span>) -> Self {
        assert_eq!(events.len(), spans.len(), "one span per event");
        Together { events, spans }
    }

    pub fn events(&self) -> &[&'a Incoming] {
        &self.events
    }

    /// The events `take` accepts (it sees each with its position), in order: what a
    /// handler applies together. An event it declines, such as one of another topic or
    /// one that does not decode, is left to `handle`.
    pub fn pick<T>(&self, mut take: impl FnMut(usize, &'a Incoming) -> Option<T>) -> Picked<T> {
        let mut picked = Picked {
            positions: Vec::new(),
            items: Vec::new(),
        };
        for (i, &event) in self.events.iter().enumerate() {
            if let Some(item) = take(i, event) {
                picked.positions.push(i);
                picked.items.push(item);
            }
        }
        picked
    }

    /// [`Together::pick`] among the events of `topic` before the batch's first event of
    /// another topic, for a handler whose other events change what these are decided
    /// on: `handle` applies those after `handle_together`, so nothing after one may be
    /// taken ahead of it. (Each subscription has a consumer of its own, so today a
    /// batch holds one topic.)
    pub fn pick_leading<T>(
        &self,
        topic: Topic,
        mut take: impl FnMut(usize, &'a Incoming) -> Option<T>,
    ) -> Picked<T> {
        let leading = self
            .events
            .iter()
            .take_while(|event| event.topic() == Some(topic))
            .count();
        self.pick(|i, event| if i < leading { take(i, event) } else { None })
    }

    /// Per event, whether one of these picks took it: what `handle_together` returns.
    pub fn taken(&self, picks: &[&[usize]]) -> Vec<bool> {
        let mut taken = vec![false; self.events.len()];
        for &i in picks.iter().flat_map(|positions| positions.iter()) {
            taken[i] = true;
        }
        taken
    }

    /// Runs `f` in the span of the batch's `i`-th event's handling: what it reads of
    /// the current trace (`trace_context::current`) is that event's.
    pub fn in_span<R>(&self, i: usize, f: impl FnOnce() -> R) -> R {
        self.spans[i].in_scope(f)
    }

    /// The span of the batch's `i`-th event's handling, for work that
    /// [`Together::publish`] does not cover (e.g. staging events of several types).
    pub fn span(&self, i: usize) -> &tracing::Span {
        &self.spans[i]
    }

    /// Stages `event` as caused by the batch's `i`-th event, as `tx.publish` would in
    /// `handle`: same saga, and the trace of that event's consumption.
    pub async fn publish<E: Event>(
        &self,
        tx: &mut Tx,
        i: usize,
        event: &E,
    ) -> anyhow::Result<uuid::Uuid> {
        tx.publish_caused_by(&self.events[i].cause(), event)
            .instrument(self.spans[i].clone())
            .await
    }
}

/// What [`Together::pick`] took: the items, and the position of each one's event in
/// the batch (for [`Together::publish`] and [`Together::taken`]).
pub struct Picked<T> {
    pub positions: Vec<usize>,
    pub items: Vec<T>,
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

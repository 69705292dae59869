//! Push delivery's batches: messages that arrive one per HTTP request are gathered
//! into the same batches that streaming pull forms, and go through the same
//! [`Consumer::deliver_gathered`] (one transaction, one inbox statement, one call of
//! the handler). Each request is answered once its batch has committed
//! (and, with `OUTBOX_PUBLISH_BEFORE_RESPONSE`, published).
//!
//! One gatherer serves every subscription of a service, so that pushes of different
//! subscriptions share batches too: where few pushes are in flight per subscription
//! (the emulator keeps two, BENCHMARKS.md), a batch per subscription would rarely
//! hold more than two messages. Every subscription of a service has the same handler,
//! and a handler applies a batch of any topics as if one message after another
//! (`Batch::runs_of`).
//!
//! Batches form as pull's do: a message goes to a free worker with whatever else has
//! arrived; messages wait while every worker is busy, and the next free worker takes
//! them all (up to the batch size). Pushes do not come as one response, as a pull's
//! messages do: a burst arrives as requests a fraction of a millisecond apart, and
//! each would take a free worker alone. So a free worker waits for company up to the
//! gathering window (`ConsumerSettings::gather_window`), counted from the arrival of
//! the oldest waiting message, or until a batch is full: a lone push waits no longer
//! than the window.

use super::{Consumer, Delivery, MAX_BATCH_SIZE, Outcome};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// One pushed message, owned (a request's body is gone once it is queued).
#[derive(Debug, Clone)]
pub struct Pushed {
    pub message_id: String,
    pub attributes: HashMap<String, String>,
    pub data: Vec<u8>,
    /// Which delivery this is (1 = first), when the subscription has a dead-letter policy.
    pub attempt: Option<i32>,
}

impl Pushed {
    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            message_id: &self.message_id,
            attributes: &self.attributes,
            data: &self.data,
            attempt: self.attempt,
        }
    }
}

/// A pushed message waiting for its batch, and where to answer.
struct Waiting {
    /// Index of its subscription's consumer.
    consumer: usize,
    message: Pushed,
    answer: oneshot::Sender<Outcome>,
    arrived: Instant,
}

/// Hands pushed messages to the batches of one service's consumers. Cheap to clone.
#[derive(Clone)]
pub struct Gatherer {
    queue: mpsc::UnboundedSender<Waiting>,
    /// Full subscription path → index of its consumer.
    subscriptions: Arc<HashMap<String, usize>>,
    /// Messages given and not yet answered.
    pending: Arc<AtomicUsize>,
}

impl Gatherer {
    /// A gatherer for `consumers` (every consumer of one service: same handler, same
    /// outbox), and the task that forms and applies its batches. The task ends once
    /// every clone of the gatherer is dropped and what it was given is answered.
    pub fn new(consumers: Vec<Consumer>) -> (Gatherer, impl Future<Output = ()> + Send) {
        let subscriptions = consumers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.subscription().to_string(), i))
            .collect();
        let (queue, received) = mpsc::unbounded_channel();
        let gatherer = Gatherer {
            queue,
            subscriptions: Arc::new(subscriptions),
            pending: Arc::default(),
        };
        (gatherer, run(consumers.into(), received))
    }

    /// Whether this service consumes `subscription` (its full path).
    pub fn consumes(&self, subscription: &str) -> bool {
        self.subscriptions.contains_key(subscription)
    }

    /// Messages given to [`Gatherer::deliver`] and not yet answered.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Processes `message`, pushed for `subscription`, in the next batch; `None` if
    /// this service does not consume that subscription. A message the gatherer could
    /// not take (the service is stopping) is `Failed`: Pub/Sub redelivers it.
    pub async fn deliver(&self, subscription: &str, message: Pushed) -> Option<Outcome> {
        let &consumer = self.subscriptions.get(subscription)?;
        let (answer, outcome) = oneshot::channel();
        let waiting = Waiting {
            consumer,
            message,
            answer,
            arrived: Instant::now(),
        };
        // Counted before it is queued, so the answer can never come first.
        self.pending.fetch_add(1, Ordering::Relaxed);
        let outcome = match self.queue.send(waiting) {
            Ok(()) => outcome.await.unwrap_or(Outcome::Failed),
            Err(_) => Outcome::Failed,
        };
        self.pending.fetch_sub(1, Ordering::Relaxed);
        Some(outcome)
    }
}

/// Forms batches as workers free up, until the queue closes and all is answered.
async fn run(consumers: Arc<[Consumer]>, mut queue: mpsc::UnboundedReceiver<Waiting>) {
    let Some(first) = consumers.first() else {
        return;
    };
    let batch_size = first.settings.batch_size.clamp(1, MAX_BATCH_SIZE);
    let max_concurrency = first.settings.max_concurrency.max(1);
    let window = first.settings.gather_window;
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    let mut in_flight = JoinSet::new();
    let mut open = true;
    loop {
        // When the oldest waiting message's window closes (if it is still open).
        let mut gathering_until = None;
        while in_flight.len() < max_concurrency && !waiting.is_empty() {
            let until = waiting[0].arrived + window;
            if waiting.len() < batch_size && open && Instant::now() < until {
                gathering_until = Some(until);
                break;
            }
            let batch: Vec<_> = waiting.drain(..waiting.len().min(batch_size)).collect();
            in_flight.spawn(apply(consumers.clone(), batch));
        }
        tokio::select! {
            // Disabled without a window open, so that `else` still ends the task.
            () = window_closes(gathering_until), if gathering_until.is_some() => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            received = queue.recv(), if open => match received {
                Some(message) => {
                    waiting.push_back(message);
                    // Take what has already arrived, without waiting for more.
                    while let Ok(message) = queue.try_recv() {
                        waiting.push_back(message);
                    }
                }
                None => open = false,
            },
            else => return,
        }
    }
}

/// Resolves when `until` passes; never without one.
async fn window_closes(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

/// Applies one gathered batch and answers each of its requests.
async fn apply(consumers: Arc<[Consumer]>, batch: Vec<Waiting>) {
    let deliveries: Vec<_> = batch.iter().map(|w| w.message.delivery()).collect();
    let of: Vec<&Consumer> = batch.iter().map(|w| &consumers[w.consumer]).collect();
    let outcomes = Consumer::deliver_gathered(&of, &deliveries).await;
    for (waiting, outcome) in batch.into_iter().zip(outcomes) {
        // The request may have gone (its caller timed out): Pub/Sub redelivers, and
        // the inbox makes that a duplicate.
        let _ = waiting.answer.send(outcome);
    }
}

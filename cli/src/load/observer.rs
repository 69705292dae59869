//! Watches the saga's outcomes the way a client that cares would: its own Pub/Sub
//! subscriptions to `order.created`, `stock.rejected`, `payment.declined` and
//! `delivery.result`, matched to checkouts by checkout id and deliveries by cart id
//! (the saga's correlation id). No database is read.

use anyhow::Context;
use cartflow_events::envelope::CORRELATION_ID;
use cartflow_events::{
    Channel, Checkout as _, DeliveryResult, Event, OrderCreated, PaymentDeclined, StockRejected,
    Topic,
};
use cartflow_messaging::PubSubConfig;
use google_cloud_pubsub::client::SubscriptionAdmin;
use google_cloud_pubsub::model::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How a checkout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Confirmed,
    Rejected,
}

/// What is known of a cart's latest checkout: when it was converted, and when its
/// email and push arrived.
#[derive(Default)]
pub struct Checkout {
    pub converted_at: Option<Instant>,
    pub emailed_at: Option<Instant>,
    pub pushed_at: Option<Instant>,
}

/// How one checkout ended, or who waits for it.
#[derive(Default)]
struct Outcome {
    ended: Option<Ending>,
    waiter: Option<oneshot::Sender<Ending>>,
}

/// Endings by checkout id (a declined cart is checked out again under a new one, and
/// must not inherit the decline); deliveries by cart id (the correlation id they
/// carry). Outcomes may arrive before the shopper has registered.
#[derive(Default)]
struct Books {
    outcomes: HashMap<Uuid, Outcome>,
    carts: HashMap<Uuid, Checkout>,
}

#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<Books>>);

impl Ledger {
    /// Records the convert and returns a receiver for the ending (ready at once if it
    /// already arrived).
    pub fn converted(
        &self,
        cart_id: Uuid,
        checkout_id: Uuid,
        at: Instant,
    ) -> oneshot::Receiver<Ending> {
        let (sender, receiver) = oneshot::channel();
        let mut books = self.0.lock().unwrap();
        // The cart's deliveries count from this checkout on (an earlier one's decline
        // notice was for that one).
        books.carts.insert(
            cart_id,
            Checkout {
                converted_at: Some(at),
                ..Checkout::default()
            },
        );
        let outcome = books.outcomes.entry(checkout_id).or_default();
        match outcome.ended {
            Some(ending) => {
                let _ = sender.send(ending);
            }
            None => outcome.waiter = Some(sender),
        }
        receiver
    }

    fn ended(&self, checkout_id: Uuid, ending: Ending) {
        let mut books = self.0.lock().unwrap();
        let outcome = books.outcomes.entry(checkout_id).or_default();
        if outcome.ended.is_none() {
            outcome.ended = Some(ending);
            if let Some(waiter) = outcome.waiter.take() {
                let _ = waiter.send(ending);
            }
        }
    }

    fn delivered(&self, cart_id: Uuid, channel: Channel, at: Instant) {
        let mut books = self.0.lock().unwrap();
        let checkout = books.carts.entry(cart_id).or_default();
        let slot = match channel {
            Channel::Email => &mut checkout.emailed_at,
            Channel::Push => &mut checkout.pushed_at,
        };
        slot.get_or_insert(at);
    }

    /// Runs `f` over every cart's latest checkout.
    pub fn with<T>(&self, f: impl FnOnce(&HashMap<Uuid, Checkout>) -> T) -> T {
        f(&self.0.lock().unwrap().carts)
    }
}

const WATCHED: [Topic; 4] = [
    Topic::OrderCreated,
    Topic::StockRejected,
    Topic::PaymentDeclined,
    Topic::DeliveryResult,
];

/// The observer's own subscriptions, deleted again by [`Observer::close`].
pub struct Observer {
    admin: SubscriptionAdmin,
    names: Vec<String>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Observer {
    pub async fn start(pubsub: &PubSubConfig, ledger: Ledger) -> anyhow::Result<Observer> {
        let admin = pubsub.subscription_admin().await?;
        let subscriber = pubsub.subscriber().await?;
        let stop = CancellationToken::new();
        let run = Uuid::new_v4().simple().to_string();
        let mut observer = Observer {
            admin,
            names: Vec::new(),
            stop: stop.clone(),
            tasks: Vec::new(),
        };
        for topic in WATCHED {
            let name = pubsub.subscription_path(&format!("loadgen-{}.{topic}", &run[..8]));
            observer
                .admin
                .create_subscription()
                .set_name(&name)
                .set_topic(pubsub.topic_path(topic.name()))
                .set_ack_deadline_seconds(10)
                .send()
                .await
                .with_context(|| format!("creating {name}"))?;
            observer.names.push(name.clone());
            let mut stream = subscriber
                .subscribe(&name)
                .set_max_outstanding_messages(5000)
                .build();
            let ledger = ledger.clone();
            let stop = stop.clone();
            observer.tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        next = stream.next() => match next {
                            Some(Ok((message, ack))) => {
                                record(&ledger, topic, &message, Instant::now());
                                ack.ack();
                            }
                            Some(Err(err)) => tracing::warn!(error = %err, "observer stream failed"),
                            None => break,
                        }
                    }
                }
            }));
        }
        Ok(observer)
    }

    /// Stops listening and deletes the observer's subscriptions.
    pub async fn close(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        for name in &self.names {
            if let Err(err) = self
                .admin
                .delete_subscription()
                .set_subscription(name)
                .send()
                .await
            {
                tracing::warn!(subscription = %name, error = %err, "could not delete");
            }
        }
    }
}

fn record(ledger: &Ledger, topic: Topic, message: &Message, at: Instant) {
    let decode = |data: &[u8]| -> Option<Uuid> {
        match topic {
            Topic::OrderCreated => serde_json::from_slice::<OrderCreated>(data)
                .ok()
                .map(|e| e.checkout()),
            Topic::StockRejected => serde_json::from_slice::<StockRejected>(data)
                .ok()
                .map(|e| e.checkout()),
            Topic::PaymentDeclined => serde_json::from_slice::<PaymentDeclined>(data)
                .ok()
                .map(|e| e.checkout_id),
            _ => None,
        }
    };
    match topic {
        Topic::OrderCreated | Topic::StockRejected | Topic::PaymentDeclined => {
            let ending = if topic == OrderCreated::TOPIC {
                Ending::Confirmed
            } else {
                Ending::Rejected
            };
            if let Some(checkout_id) = decode(&message.data) {
                ledger.ended(checkout_id, ending);
            }
        }
        Topic::DeliveryResult => {
            let cart_id = message
                .attributes
                .get(CORRELATION_ID)
                .and_then(|c| Uuid::parse_str(c).ok());
            let result = serde_json::from_slice::<DeliveryResult>(&message.data).ok();
            if let (Some(cart_id), Some(result)) = (cart_id, result) {
                for outcome in result.outcomes.iter().filter(|o| o.delivered) {
                    ledger.delivered(cart_id, outcome.channel, at);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cart declined and checked out again waits for its new checkout's ending, not
    /// the decline; an ending that came before the shopper registered is not lost.
    #[test]
    fn each_checkout_of_a_cart_has_its_own_ending() {
        let ledger = Ledger::default();
        let (cart, first, second) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut declined = ledger.converted(cart, first, Instant::now());
        ledger.ended(first, Ending::Rejected);
        assert_eq!(declined.try_recv(), Ok(Ending::Rejected));

        let mut retried = ledger.converted(cart, second, Instant::now());
        assert!(retried.try_recv().is_err(), "the decline is the first's");
        ledger.ended(first, Ending::Rejected); // a duplicate of the old decline
        assert!(retried.try_recv().is_err());
        ledger.ended(second, Ending::Confirmed);
        assert_eq!(retried.try_recv(), Ok(Ending::Confirmed));

        let early = Uuid::new_v4();
        ledger.ended(early, Ending::Confirmed);
        let mut late = ledger.converted(Uuid::new_v4(), early, Instant::now());
        assert_eq!(late.try_recv(), Ok(Ending::Confirmed));
    }
}

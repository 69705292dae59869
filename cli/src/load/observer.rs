//! Watches the saga's outcomes the way a client that cares would: its own Pub/Sub
//! subscriptions to `order.created`, `stock.rejected`, `payment.declined` and
//! `delivery.result`, matched
//! to checkouts by cart id (the saga's correlation id). No database is read.

use anyhow::Context;
use cartflow_events::envelope::CORRELATION_ID;
use cartflow_events::{
    Channel, DeliveryResult, Event, OrderCreated, PaymentDeclined, StockRejected, Topic,
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

/// What is known of one checkout.
#[derive(Default)]
pub struct Checkout {
    pub converted_at: Option<Instant>,
    pub ended: Option<(Ending, Instant)>,
    pub emailed_at: Option<Instant>,
    pub pushed_at: Option<Instant>,
    waiter: Option<oneshot::Sender<Ending>>,
}

/// Checkouts by cart id; outcomes may arrive before the shopper has registered.
#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<HashMap<Uuid, Checkout>>>);

impl Ledger {
    /// Records the convert and returns a receiver for the ending (ready at once if it
    /// already arrived).
    pub fn converted(&self, cart_id: Uuid, at: Instant) -> oneshot::Receiver<Ending> {
        let (sender, receiver) = oneshot::channel();
        let mut all = self.0.lock().unwrap();
        let checkout = all.entry(cart_id).or_default();
        checkout.converted_at = Some(at);
        match checkout.ended {
            Some((ending, _)) => {
                let _ = sender.send(ending);
            }
            None => checkout.waiter = Some(sender),
        }
        receiver
    }

    fn ended(&self, cart_id: Uuid, ending: Ending, at: Instant) {
        let mut all = self.0.lock().unwrap();
        let checkout = all.entry(cart_id).or_default();
        if checkout.ended.is_none() {
            checkout.ended = Some((ending, at));
            if let Some(waiter) = checkout.waiter.take() {
                let _ = waiter.send(ending);
            }
        }
    }

    fn delivered(&self, cart_id: Uuid, channel: Channel, at: Instant) {
        let mut all = self.0.lock().unwrap();
        let checkout = all.entry(cart_id).or_default();
        let slot = match channel {
            Channel::Email => &mut checkout.emailed_at,
            Channel::Push => &mut checkout.pushed_at,
        };
        slot.get_or_insert(at);
    }

    /// Runs `f` over every checkout.
    pub fn with<T>(&self, f: impl FnOnce(&HashMap<Uuid, Checkout>) -> T) -> T {
        f(&self.0.lock().unwrap())
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
                .map(|e| e.cart_id),
            Topic::StockRejected => serde_json::from_slice::<StockRejected>(data)
                .ok()
                .map(|e| e.cart_id),
            Topic::PaymentDeclined => serde_json::from_slice::<PaymentDeclined>(data)
                .ok()
                .map(|e| e.cart_id),
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
            if let Some(cart_id) = decode(&message.data) {
                ledger.ended(cart_id, ending, at);
            }
        }
        Topic::DeliveryResult => {
            let cart_id = message
                .attributes
                .get(CORRELATION_ID)
                .and_then(|c| Uuid::parse_str(c).ok());
            let result = serde_json::from_slice::<DeliveryResult>(&message.data).ok();
            if let (Some(cart_id), Some(result)) = (cart_id, result)
                && result.delivered
            {
                ledger.delivered(cart_id, result.channel, at);
            }
        }
        _ => {}
    }
}

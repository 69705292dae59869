//! Notification's reactions: outcomes become notifications, customer events keep the
//! contact copy current, delivery results settle notifications.

use crate::Settings;
use crate::domain::{Message, To};
use crate::notify::{self, Outgoing, send};
use crate::store;
use crate::templates;
use crate::webhooks::store::{self as webhooks, Queued};
use async_trait::async_trait;
use cartflow_events::{
    Channel, CheckoutExpired, CustomerCreated, CustomerDeleted, CustomerUpdated, DeliveryRequested,
    DeliveryResult, LowStock, OrderCancelled, OrderCreated, OrderDelivered, OrderShipped,
    PaymentCaptured, PaymentDeclined, PaymentRefunded, ProductChanged, StockRejected, Topic,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Together, Tx};
use uuid::Uuid;

pub struct NotificationHandler {
    pub settings: Settings,
}

#[async_trait]
impl EventHandler for NotificationHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        let version = event.envelope.occurred_at;
        // Queued for the webhook endpoints first; an event the match refuses rolls back.
        if let Some(queued) = Queued::of(event) {
            webhooks::enqueue(tx.conn(), &[queued]).await?;
        }
        match event.topic() {
            Some(topic) if News::TOPICS.contains(&topic) => {
                let news = News::of(event)?;
                for (_, delivery) in tell_customers(tx, vec![news]).await? {
                    tx.publish(&delivery).await?;
                }
                Ok(())
            }
            Some(Topic::LowStock) => {
                let e: LowStock = event.decode()?;
                let to = To {
                    customer_id: None,
                    email: Some(&self.settings.stock_manager_email),
                };
                let message = templates::low_stock(&e);
                send(
                    tx,
                    Some(event.envelope.event_id),
                    to,
                    &message,
                    &[Channel::Email],
                )
                .await?;
                Ok(())
            }
            Some(Topic::CustomerCreated) => {
                let CustomerCreated(c) = event.decode()?;
                Ok(store::upsert_contact(tx.conn(), &c, version).await?)
            }
            Some(Topic::CustomerUpdated) => {
                let CustomerUpdated(c) = event.decode()?;
                Ok(store::upsert_contact(tx.conn(), &c, version).await?)
            }
            Some(Topic::CustomerDeleted) => {
                let e: CustomerDeleted = event.decode()?;
                store::tombstone_contact(tx.conn(), e.customer_id, version).await?;
                deleted::on_customer_deleted(tx, event).await
            }
            Some(Topic::DeliveryResult) => settle(tx, vec![event.decode()?]).await,
            // For the webhooks only (queued above), once it decodes.
            Some(Topic::ProductChanged) => event.decode::<ProductChanged>().map(drop),
            _ => Err(event.unexpected()),
        }
    }

    /// A batch's delivery results settle their notifications with one statement; its
    /// news for customers is told with two (their contacts, then the notifications).
    /// What does not decode is left to `handle`, which refuses it alone.
    async fn handle_together(
        &self,
        tx: &mut Tx,
        batch: &Together<'_>,
    ) -> Result<Vec<bool>, HandlerError> {
        let results = batch.pick(|_, event| event.decode::<DeliveryResult>().ok());
        if !results.items.is_empty() {
            settle(tx, results.items).await?;
        }
        let news = batch.pick(|_, event| News::of(event).ok());
        // The news taken here is queued for the webhook endpoints here, as `handle`
        // queues what it applies.
        let queued: Vec<Queued> = news
            .positions
            .iter()
            .filter_map(|&i| Queued::of(batch.events()[i]))
            .collect();
        webhooks::enqueue(tx.conn(), &queued).await?;
        if !news.items.is_empty() {
            for (k, delivery) in tell_customers(tx, news.items).await? {
                batch.publish(tx, news.positions[k], &delivery).await?;
            }
        }
        Ok(batch.taken(&[&results.positions, &news.positions]))
    }
}

/// Settles the notifications these delivery results are about.
async fn settle(tx: &mut Tx, results: Vec<DeliveryResult>) -> Result<(), HandlerError> {
    for notification_id in store::record_results(tx.conn(), &results).await? {
        tracing::warn!(%notification_id, "result for a notification that is not pending; ignored");
    }
    Ok(())
}

/// An outcome to tell a customer by email and push, once per `source` (the event's
/// id, or the fact it announces when that may be announced again).
struct News {
    source: Uuid,
    customer_id: Uuid,
    render: Render,
}

/// Writes a message, given the customer's name if known.
type Render = Box<dyn FnOnce(Option<&str>) -> Message + Send>;

impl News {
    /// The topics that are news for a customer.
    const TOPICS: [Topic; 9] = [
        Topic::PaymentDeclined,
        Topic::PaymentCaptured,
        Topic::PaymentRefunded,
        Topic::OrderCreated,
        Topic::CheckoutExpired,
        Topic::StockRejected,
        Topic::OrderCancelled,
        Topic::OrderShipped,
        Topic::OrderDelivered,
    ];

    /// The news in `event`, whose topic is one of [`News::TOPICS`].
    fn of(event: &Incoming) -> Result<News, HandlerError> {
        let event_id = event.envelope.event_id;
        fn news<F>(source: Uuid, customer_id: Uuid, render: F) -> News
        where
            F: FnOnce(Option<&str>) -> Message + Send + 'static,
        {
            News {
                source,
                customer_id,
                render: Box::new(render),
            }
        }
        Ok(match event.topic() {
            // Once per order: order may announce it again (an expiry request that found
            // the order), under a new event id.
            Some(Topic::OrderCreated) => {
                let e: OrderCreated = event.decode()?;
                news(e.order_id, e.customer_id, move |name| {
                    templates::order_confirmed(&e, name)
                })
            }
            // Once per checkout, however often order announces it.
            Some(Topic::CheckoutExpired) => {
                let e: CheckoutExpired = event.decode()?;
                news(e.checkout_id, e.customer_id, move |name| {
                    templates::checkout_expired(&e, name)
                })
            }
            Some(Topic::StockRejected) => {
                let e: StockRejected = event.decode()?;
                news(event_id, e.customer_id, move |name| {
                    templates::stock_rejected(&e, name)
                })
            }
            Some(Topic::OrderCancelled) => {
                let e: OrderCancelled = event.decode()?;
                news(event_id, e.customer_id, move |name| {
                    templates::order_cancelled(&e, name)
                })
            }
            Some(Topic::OrderShipped) => {
                let OrderShipped(e) = event.decode()?;
                news(event_id, e.customer_id, move |name| {
                    templates::order_status(&e, name)
                })
            }
            Some(Topic::OrderDelivered) => {
                let OrderDelivered(e) = event.decode()?;
                news(event_id, e.customer_id, move |name| {
                    templates::order_status(&e, name)
                })
            }
            // Once per checkout: payment announces a decline again for a re-sent request.
            Some(Topic::PaymentDeclined) => {
                let e: PaymentDeclined = event.decode()?;
                news(e.checkout_id, e.customer_id, move |name| {
                    templates::payment_declined(&e, name)
                })
            }
            // Once per payment: captured once, refunded once.
            Some(Topic::PaymentCaptured) => {
                let e: PaymentCaptured = event.decode()?;
                news(e.payment_id, e.customer_id, move |name| {
                    templates::payment_receipt(&e, name)
                })
            }
            Some(Topic::PaymentRefunded) => {
                let e: PaymentRefunded = event.decode()?;
                let source = refund_source(e.payment_id);
                news(source, e.customer_id, move |name| {
                    templates::payment_refunded(&e, name)
                })
            }
            _ => return Err(event.unexpected()),
        })
    }
}

/// The source of a payment's refund notice: derived from the payment id, so that it
/// differs from the receipt's (the payment id itself) yet stays the same every time.
fn refund_source(payment_id: Uuid) -> Uuid {
    Uuid::new_v5(&payment_id, b"refund")
}

/// Records the notifications of `news`, addressed from the contact copy, with one
/// statement for the contacts and one for the notifications. Returns the deliveries to
/// ask for, by the position of their news.
async fn tell_customers(
    tx: &mut Tx,
    news: Vec<News>,
) -> Result<Vec<(usize, DeliveryRequested)>, HandlerError> {
    let customers: Vec<Uuid> = news.iter().map(|n| n.customer_id).collect();
    let contacts = store::contacts(tx.conn(), &customers).await?;
    let (sources, messages): (Vec<Uuid>, Vec<Message>) = news
        .into_iter()
        .map(|n| {
            let name = contacts.get(&n.customer_id).map(|c| c.name.as_str());
            (n.source, (n.render)(name))
        })
        .unzip();
    let outgoing: Vec<Outgoing> = customers
        .iter()
        .zip(&sources)
        .zip(&messages)
        .map(|((&customer_id, &source), message)| Outgoing {
            source_event_id: Some(source),
            to: To {
                customer_id: Some(customer_id),
                email: contacts.get(&customer_id).and_then(|c| c.email.as_deref()),
            },
            message,
            channels: &Channel::BOTH,
        })
        .collect();
    Ok(notify::record(tx.conn(), &outgoing)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.index, r.delivery?)))
        .collect())
}

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
    Channel, CheckoutExpired, CustomerCreated, CustomerDeleted, CustomerDetails, CustomerUpdated,
    DeliveryOutcome, DeliveryRequested, DeliveryResult, LowStock, OrderCancelled, OrderCreated,
    OrderDelivered, OrderShipped, PaymentCaptured, PaymentDeclined, PaymentRefunded,
    ProductChanged, StockRejected, Topic,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Item, Run, Tx};
use tracing::Instrument;
use uuid::Uuid;

pub struct NotificationHandler {
    pub settings: Settings,
}

/// What notification consumes, decoded.
pub enum NotificationMessage {
    /// An outcome to tell its customer.
    News(News),
    LowStock(LowStock),
    /// `customer.created` or `customer.updated`: the contact to keep.
    Contact(CustomerDetails),
    CustomerDeleted(CustomerDeleted),
    DeliveryResult(DeliveryResult),
    /// For the webhook endpoints only.
    ProductChanged,
}

#[async_trait]
impl EventHandler for NotificationHandler {
    type Message = NotificationMessage;

    fn decode(&self, event: &Incoming) -> Result<NotificationMessage, HandlerError> {
        Ok(match event.topic() {
            Some(topic) if News::TOPICS.contains(&topic) => {
                NotificationMessage::News(News::of(event)?)
            }
            Some(Topic::LowStock) => NotificationMessage::LowStock(event.decode()?),
            Some(Topic::CustomerCreated) => {
                NotificationMessage::Contact(event.decode::<CustomerCreated>()?.0)
            }
            Some(Topic::CustomerUpdated) => {
                NotificationMessage::Contact(event.decode::<CustomerUpdated>()?.0)
            }
            Some(Topic::CustomerDeleted) => NotificationMessage::CustomerDeleted(event.decode()?),
            Some(Topic::DeliveryResult) => NotificationMessage::DeliveryResult(event.decode()?),
            Some(Topic::ProductChanged) => {
                event.decode::<ProductChanged>()?;
                NotificationMessage::ProductChanged
            }
            _ => return Err(event.unexpected()),
        })
    }

    /// Every event the webhook endpoints subscribe to is queued for them, with one
    /// statement for the batch. Then consecutive news is told with two (the contacts,
    /// then the notifications), consecutive delivery results settle their
    /// notifications with one, and the rest goes one by one.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, NotificationMessage>,
    ) -> Result<(), HandlerError> {
        let queued: Vec<Queued> = batch.iter().filter_map(|i| Queued::of(i.event)).collect();
        if !queued.is_empty() {
            webhooks::enqueue(tx.conn(), &queued).await?;
        }
        for run in batch.runs_of(|m| match m {
            NotificationMessage::News(news) => Some(news),
            _ => None,
        }) {
            let rest = match run {
                Run::Picked(run, news) => {
                    for (k, delivery) in tell_customers(tx, &news).await? {
                        run.get(k).publish(tx, &delivery).await?;
                    }
                    continue;
                }
                Run::Rest(rest) => rest,
            };
            for run in rest.runs_of(|m| match m {
                NotificationMessage::DeliveryResult(result) => Some(result),
                _ => None,
            }) {
                match run {
                    Run::Picked(_, results) => settle(tx, &results).await?,
                    Run::Rest(others) => {
                        for item in others.iter() {
                            item.act_for(tx);
                            self.apply_one(tx, &item).instrument(item.span()).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl NotificationHandler {
    /// Applies a message that is neither news nor a delivery result.
    async fn apply_one(
        &self,
        tx: &mut Tx,
        item: &Item<'_, NotificationMessage>,
    ) -> Result<(), HandlerError> {
        let version = item.event.envelope.occurred_at;
        match item.message {
            NotificationMessage::LowStock(e) => {
                let to = To {
                    customer_id: None,
                    email: Some(&self.settings.stock_manager_email),
                };
                let message = templates::low_stock(e);
                let source = Some(item.event.envelope.event_id);
                send(tx, source, to, &message, &[Channel::Email]).await?;
            }
            NotificationMessage::Contact(c) => store::upsert_contact(tx.conn(), c, version).await?,
            NotificationMessage::CustomerDeleted(e) => {
                store::tombstone_contact(tx.conn(), e.customer_id, version).await?;
                deleted::on_customer_deleted(tx, e).await?;
            }
            // Queued for the webhooks, which is all it is for.
            NotificationMessage::ProductChanged => {}
            NotificationMessage::News(_) | NotificationMessage::DeliveryResult(_) => {
                unreachable!("`runs_of` picks every news and every result")
            }
        }
        Ok(())
    }
}

/// Settles the notifications these delivery results are about.
async fn settle(tx: &mut Tx, results: &[&DeliveryResult]) -> Result<(), HandlerError> {
    let outcomes: Vec<&DeliveryOutcome> = results.iter().flat_map(|r| &r.outcomes).collect();
    for notification_id in store::record_results(tx.conn(), &outcomes).await? {
        tracing::warn!(%notification_id, "result for a notification that is not pending; ignored");
    }
    Ok(())
}

/// An outcome to tell a customer by email and push, once per `source` (the event's
/// id, or the fact it announces when that may be announced again).
pub struct News {
    source: Uuid,
    customer_id: Uuid,
    render: Render,
}

/// Writes a message, given the customer's name if known.
type Render = Box<dyn Fn(Option<&str>) -> Message + Send + Sync>;

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
            F: Fn(Option<&str>) -> Message + Send + Sync + 'static,
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

/// Records the notifications of a run of news, addressed from the contact copy, with
/// one statement for the contacts and one for the notifications. Returns the
/// deliveries to ask for, by the position of their news in the run.
async fn tell_customers(
    tx: &mut Tx,
    news: &[&News],
) -> Result<Vec<(usize, DeliveryRequested)>, HandlerError> {
    let customers: Vec<Uuid> = news.iter().map(|n| n.customer_id).collect();
    let contacts = store::contacts(tx.conn(), &customers).await?;
    let messages: Vec<Message> = news
        .iter()
        .map(|n| (n.render)(contacts.get(&n.customer_id).map(|c| c.name.as_str())))
        .collect();
    let outgoing: Vec<Outgoing> = news
        .iter()
        .zip(&messages)
        .map(|(n, message)| Outgoing {
            source_event_id: Some(n.source),
            to: To {
                customer_id: Some(n.customer_id),
                email: contacts
                    .get(&n.customer_id)
                    .and_then(|c| c.email.as_deref()),
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

//! Notification's reactions: outcomes become notifications, customer events keep the
//! contact copy current, delivery results settle notifications.

use crate::Settings;
use crate::domain::{Message, To};
use crate::notify::send;
use crate::store;
use crate::templates;
use async_trait::async_trait;
use cartflow_events::{
    Channel, CheckoutExpired, CustomerCreated, CustomerDeleted, CustomerUpdated, DeliveryResult,
    LowStock, OrderCancelled, OrderCreated, OrderDelivered, OrderShipped, StockRejected, Topic,
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
        match event.topic() {
            Some(Topic::OrderCreated) => {
                let e: OrderCreated = event.decode()?;
                // Once per order: order may announce it again (an expiry request that
                // found the order), under a new event id.
                tell_customer(tx, e.order_id, e.customer_id, |name| {
                    templates::order_confirmed(&e, name)
                })
                .await
            }
            Some(Topic::CheckoutExpired) => {
                let e: CheckoutExpired = event.decode()?;
                // Once per checkout, however often order announces it.
                tell_customer(tx, e.checkout_id, e.customer_id, |name| {
                    templates::checkout_expired(&e, name)
                })
                .await
            }
            Some(Topic::StockRejected) => {
                let e: StockRejected = event.decode()?;
                tell_customer(tx, event.envelope.event_id, e.customer_id, |name| {
                    templates::stock_rejected(&e, name)
                })
                .await
            }
            Some(Topic::OrderCancelled) => {
                let e: OrderCancelled = event.decode()?;
                tell_customer(tx, event.envelope.event_id, e.customer_id, |name| {
                    templates::order_cancelled(&e, name)
                })
                .await
            }
            Some(Topic::OrderShipped) => {
                let OrderShipped(e) = event.decode()?;
                tell_customer(tx, event.envelope.event_id, e.customer_id, |name| {
                    templates::order_status(&e, name)
                })
                .await
            }
            Some(Topic::OrderDelivered) => {
                let OrderDelivered(e) = event.decode()?;
                tell_customer(tx, event.envelope.event_id, e.customer_id, |name| {
                    templates::order_status(&e, name)
                })
                .await
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
            _ => Err(event.unexpected()),
        }
    }

    /// A batch's delivery results settle their notifications with one statement.
    async fn handle_together(
        &self,
        tx: &mut Tx,
        batch: &Together<'_>,
    ) -> Result<Vec<bool>, HandlerError> {
        let (together, results) = batch.decode_all::<DeliveryResult>()?;
        if !results.is_empty() {
            settle(tx, results).await?;
        }
        Ok(together)
    }
}

/// Settles the notifications these delivery results are about.
async fn settle(tx: &mut Tx, results: Vec<DeliveryResult>) -> Result<(), HandlerError> {
    for notification_id in store::record_results(tx.conn(), &results).await? {
        tracing::warn!(%notification_id, "result for a notification that is not pending; ignored");
    }
    Ok(())
}

/// Email and push to a customer, addressed from the contact copy, once per `source`
/// (the event's id, or the fact it announces when that may be announced again).
async fn tell_customer(
    tx: &mut Tx,
    source: Uuid,
    customer_id: Uuid,
    render: impl FnOnce(Option<&str>) -> Message,
) -> Result<(), HandlerError> {
    let contact = store::contact(tx.conn(), customer_id).await?;
    let message = render(contact.as_ref().map(|c| c.name.as_str()));
    let to = To {
        customer_id: Some(customer_id),
        email: contact.as_ref().and_then(|c| c.email.as_deref()),
    };
    send(tx, Some(source), to, &message, &Channel::BOTH).await?;
    Ok(())
}

//! Cart's reactions to the end of its checkout: rejected, declined or given up (unlock), or
//! ordered (convert); to catalog changes (its copy of the catalog); and to customers'
//! details (its copy of their saved addresses).

use crate::domain::{CheckoutEnd, Rejection};
use crate::{addresses, metrics, store};
use async_trait::async_trait;
use cartflow_events::{
    CheckoutExpired, CustomerCreated, CustomerDeleted, CustomerUpdated, OrderCreated,
    PaymentDeclined, ProductChanged, StockRejected, Topic,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Together, Tx};
use std::collections::HashMap;
use uuid::Uuid;

pub struct CartHandler;

#[async_trait]
impl EventHandler for CartHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        match event.topic() {
            Some(Topic::StockRejected) => {
                let rejected: StockRejected = event.decode()?;
                let rejection = Rejection {
                    reason: rejected.reason,
                    details: rejected.details,
                    decline_code: None,
                };
                let ended = store::mark_rejected(
                    tx.conn(),
                    rejected.cart_id,
                    rejected.checkout_id,
                    &rejection,
                    CheckoutEnd::Rejected,
                )
                .await?;
                if let Some(ended) = ended {
                    count_on_commit(tx, CheckoutEnd::Rejected, ended);
                    tracing::info!(cart_id = %rejected.cart_id, "cart unlocked: stock unavailable");
                } else {
                    tracing::warn!(cart_id = %rejected.cart_id, "rejection for a cart that is not pending; ignored");
                }
                Ok(())
            }
            Some(Topic::PaymentDeclined) => {
                let declined: PaymentDeclined = event.decode()?;
                let rejection = Rejection {
                    reason: declined.reason,
                    details: Vec::new(),
                    decline_code: declined.decline_code,
                };
                let (cart_id, checkout_id) = (declined.cart_id, declined.checkout_id);
                let ended = store::mark_rejected(
                    tx.conn(),
                    cart_id,
                    Some(checkout_id),
                    &rejection,
                    CheckoutEnd::Declined,
                )
                .await?;
                if let Some(ended) = ended {
                    count_on_commit(tx, CheckoutEnd::Declined, ended);
                    tracing::info!(%cart_id, %checkout_id, "cart unlocked: payment declined");
                } else {
                    tracing::info!(%cart_id, %checkout_id, "decline for a checkout that is not pending; ignored");
                }
                Ok(())
            }
            Some(Topic::OrderCreated) => convert(tx, vec![event.decode()?]).await,
            Some(Topic::CheckoutExpired) => {
                let expired: CheckoutExpired = event.decode()?;
                let (cart_id, checkout_id) = (expired.cart_id, expired.checkout_id);
                if let Some(ended) = store::mark_expired(tx.conn(), cart_id, checkout_id).await? {
                    count_on_commit(tx, CheckoutEnd::Expired, ended);
                    tracing::info!(%cart_id, %checkout_id, "cart unlocked: checkout given up");
                } else {
                    tracing::info!(%cart_id, %checkout_id, "expiry of a checkout that is not pending; ignored");
                }
                Ok(())
            }
            Some(Topic::CustomerDeleted) => {
                let gone: CustomerDeleted = event.decode()?;
                addresses::forget(tx.conn(), gone.customer_id).await?;
                deleted::on_customer_deleted(tx, event).await
            }
            Some(Topic::CustomerCreated | Topic::CustomerUpdated) => {
                let details = match event.topic() {
                    Some(Topic::CustomerCreated) => event.decode::<CustomerCreated>()?.0,
                    _ => event.decode::<CustomerUpdated>()?.0,
                };
                let as_of = event.envelope.occurred_at;
                if !addresses::remember(tx.conn(), &details, as_of).await? {
                    tracing::info!(customer_id = %details.customer_id,
                        "customer details older than the copy's, or of a deleted customer; ignored");
                }
                Ok(())
            }
            Some(Topic::ProductChanged) => {
                let changed: ProductChanged = event.decode()?;
                if !crate::catalog::remember(tx.conn(), &changed).await? {
                    tracing::info!(sku = %changed.sku, version = changed.version,
                        "catalog change older than the copy's; ignored");
                }
                Ok(())
            }
            _ => Err(event.unexpected()),
        }
    }

    /// A batch's orders convert their carts with one statement.
    async fn handle_together(
        &self,
        tx: &mut Tx,
        batch: &Together<'_>,
    ) -> Result<Vec<bool>, HandlerError> {
        let created = batch.pick(|_, event| event.decode::<OrderCreated>().ok());
        if !created.items.is_empty() {
            convert(tx, created.items).await?;
        }
        Ok(batch.taken(&[&created.positions]))
    }
}

/// Converts the carts these orders were created for.
async fn convert(tx: &mut Tx, created: Vec<OrderCreated>) -> Result<(), HandlerError> {
    let orders: Vec<(Uuid, Uuid)> = created.iter().map(|c| (c.cart_id, c.order_id)).collect();
    let mut converted: HashMap<Uuid, store::Ended> = store::mark_converted(tx.conn(), &orders)
        .await?
        .into_iter()
        .collect();
    for c in &created {
        match converted.remove(&c.cart_id) {
            Some(ended) => {
                count_on_commit(tx, CheckoutEnd::Ordered, ended);
                tracing::info!(cart_id = %c.cart_id, order_id = %c.order_id, "cart converted");
            }
            None => {
                tracing::warn!(cart_id = %c.cart_id, "order for a cart already converted or unknown; ignored")
            }
        }
    }
    Ok(())
}

/// The checkout's end counts once its transaction has committed.
fn count_on_commit(tx: &mut Tx, how: CheckoutEnd, ended: store::Ended) {
    tx.after_commit(move || metrics::checkout_ended(how, ended.started_at));
}

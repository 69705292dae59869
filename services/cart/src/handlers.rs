//! Cart's reactions to the end of its checkout: rejected, declined or given up (unlock), or
//! ordered (convert); to catalog changes (its copy of the catalog); and to customers'
//! details (its copy of their saved addresses).

use crate::domain::{CheckoutEnd, Rejection};
use crate::{addresses, metrics, store};
use async_trait::async_trait;
use cartflow_events::{
    CheckoutExpired, CustomerCreated, CustomerDeleted, CustomerDetails, CustomerUpdated,
    OrderCreated, PaymentDeclined, ProductChanged, StockRejected, Topic,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Item, Run, Tx};
use std::collections::HashMap;
use tracing::Instrument;
use uuid::Uuid;

pub struct CartHandler;

/// What the cart consumes, decoded.
pub enum CartMessage {
    StockRejected(StockRejected),
    PaymentDeclined(PaymentDeclined),
    OrderCreated(OrderCreated),
    CheckoutExpired(CheckoutExpired),
    CustomerDeleted(CustomerDeleted),
    /// `customer.created` or `customer.updated`: the saved address to keep.
    CustomerDetails(CustomerDetails),
    ProductChanged(ProductChanged),
}

#[async_trait]
impl EventHandler for CartHandler {
    type Message = CartMessage;

    fn decode(&self, event: &Incoming) -> Result<CartMessage, HandlerError> {
        Ok(match event.topic() {
            Some(Topic::StockRejected) => CartMessage::StockRejected(event.decode()?),
            Some(Topic::PaymentDeclined) => CartMessage::PaymentDeclined(event.decode()?),
            Some(Topic::OrderCreated) => CartMessage::OrderCreated(event.decode()?),
            Some(Topic::CheckoutExpired) => CartMessage::CheckoutExpired(event.decode()?),
            Some(Topic::CustomerDeleted) => CartMessage::CustomerDeleted(event.decode()?),
            Some(Topic::CustomerCreated) => {
                CartMessage::CustomerDetails(event.decode::<CustomerCreated>()?.0)
            }
            Some(Topic::CustomerUpdated) => {
                CartMessage::CustomerDetails(event.decode::<CustomerUpdated>()?.0)
            }
            Some(Topic::ProductChanged) => CartMessage::ProductChanged(event.decode()?),
            _ => return Err(event.unexpected()),
        })
    }

    /// Consecutive orders convert their carts with one statement; everything else is
    /// applied one by one, in its place.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, CartMessage>,
    ) -> Result<(), HandlerError> {
        for run in batch.runs_of(|m| match m {
            CartMessage::OrderCreated(created) => Some(created),
            _ => None,
        }) {
            match run {
                Run::Picked(_, created) => convert(tx, &created).await?,
                Run::Rest(rest) => {
                    for item in rest.iter() {
                        item.act_for(tx);
                        apply_one(tx, &item).instrument(item.span()).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Applies one message other than `order.created`.
async fn apply_one(tx: &mut Tx, item: &Item<'_, CartMessage>) -> Result<(), HandlerError> {
    match item.message {
        CartMessage::StockRejected(rejected) => {
            let rejection = Rejection {
                reason: rejected.reason.clone(),
                details: rejected.details.clone(),
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
        }
        CartMessage::PaymentDeclined(declined) => {
            let rejection = Rejection {
                reason: declined.reason.clone(),
                details: Vec::new(),
                decline_code: declined.decline_code.clone(),
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
        }
        CartMessage::OrderCreated(created) => convert(tx, &[created]).await?,
        CartMessage::CheckoutExpired(expired) => {
            let (cart_id, checkout_id) = (expired.cart_id, expired.checkout_id);
            if let Some(ended) = store::mark_expired(tx.conn(), cart_id, checkout_id).await? {
                count_on_commit(tx, CheckoutEnd::Expired, ended);
                tracing::info!(%cart_id, %checkout_id, "cart unlocked: checkout given up");
            } else {
                tracing::info!(%cart_id, %checkout_id, "expiry of a checkout that is not pending; ignored");
            }
        }
        CartMessage::CustomerDeleted(gone) => {
            addresses::forget(tx.conn(), gone.customer_id).await?;
            deleted::on_customer_deleted(tx, gone).await?;
        }
        CartMessage::CustomerDetails(details) => {
            let as_of = item.event.envelope.occurred_at;
            if !addresses::remember(tx.conn(), details, as_of).await? {
                tracing::info!(customer_id = %details.customer_id,
                    "customer details older than the copy's, or of a deleted customer; ignored");
            }
        }
        CartMessage::ProductChanged(changed) => {
            if !crate::catalog::remember(tx.conn(), changed).await? {
                tracing::info!(sku = %changed.sku, version = changed.version,
                    "catalog change older than the copy's; ignored");
            }
        }
    }
    Ok(())
}

/// Converts the carts these orders were created for.
async fn convert(tx: &mut Tx, created: &[&OrderCreated]) -> Result<(), HandlerError> {
    let orders: Vec<(Uuid, Uuid)> = created.iter().map(|c| (c.cart_id, c.order_id)).collect();
    let mut converted: HashMap<Uuid, store::Ended> = store::mark_converted(tx.conn(), &orders)
        .await?
        .into_iter()
        .collect();
    for c in created {
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

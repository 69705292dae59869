//! Inventory's reactions to `order-requested` and `order.cancelled`.

use crate::domain::{crosses_low_stock, requested_per_sku, shortages};
use crate::store;
use async_trait::async_trait;
use cartflow_events::{
    INSUFFICIENT_STOCK, LowStock, OrderCancelled, OrderRequested, StockAvailable, StockRejected,
    Topic,
};
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Tx};
use std::collections::{BTreeMap, BTreeSet};

pub struct InventoryHandler;

#[async_trait]
impl EventHandler for InventoryHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        match event.topic() {
            Some(Topic::OrderRequested) => reserve(tx, event, event.decode()?).await,
            Some(Topic::OrderCancelled) => release(tx, event.decode()?).await,
            _ => Err(event.unexpected()),
        }
    }

    /// Locks the stock rows of every request and cancellation in the batch, in SKU
    /// order, before any of them is applied. A batch that locked per message would hold
    /// one cart's rows while waiting for rows another batch holds, which may be waiting
    /// for these: a deadlock PostgreSQL breaks only after `deadlock_timeout` (1 s).
    async fn lock_batch(&self, tx: &mut Tx, batch: &[&Incoming]) -> Result<(), HandlerError> {
        if batch.len() < 2 {
            return Ok(());
        }
        let mut skus = BTreeSet::new();
        for event in batch {
            let items = match event.topic() {
                Some(Topic::OrderRequested) => event.decode::<OrderRequested>().map(|r| r.items),
                Some(Topic::OrderCancelled) => event.decode::<OrderCancelled>().map(|c| c.items),
                _ => continue,
            };
            skus.extend(items.into_iter().flatten().map(|line| line.product_sku));
        }
        let skus: Vec<String> = skus.into_iter().collect();
        store::lock_levels(tx.conn(), &skus).await?;
        Ok(())
    }
}

/// Reserves every line or none, and says which in an event.
async fn reserve(
    tx: &mut Tx,
    event: &Incoming,
    request: OrderRequested,
) -> Result<(), HandlerError> {
    let wanted = requested_per_sku(&request.items).map_err(HandlerError::Poison)?;
    let skus: Vec<String> = wanted.keys().cloned().collect();
    let levels = store::lock_levels(tx.conn(), &skus).await?;
    // Checked after the stock rows are locked: a repeated request for the same cart that
    // raced the first one has waited for it here, and now sees its reservation.
    if let Some((held, items)) = store::reservation(tx.conn(), request.cart_id).await? {
        if held {
            // A re-sent request (the cart's deadline passed): answer again from the
            // reservation; order creation is idempotent per cart.
            let reply = StockAvailable {
                cart_id: request.cart_id,
                customer_id: request.customer_id,
                items,
            };
            tx.publish(&event.cause(), &reply).await?;
            tracing::info!(cart_id = %request.cart_id, "repeated request: reservation announced again");
        } else {
            tracing::warn!(cart_id = %request.cart_id, "request for a released reservation; ignored");
        }
        return Ok(());
    }
    let available = levels
        .iter()
        .map(|(sku, l)| (sku.clone(), l.available))
        .collect();
    let short = shortages(&wanted, &available);
    if short.is_empty() {
        // The reservation row is keyed by cart: a second request for the same checkout
        // (under another event id) waits here for the first and then reserves nothing.
        if !store::insert_reservation(
            tx.conn(),
            request.cart_id,
            request.customer_id,
            &request.items,
        )
        .await?
        {
            tracing::warn!(cart_id = %request.cart_id, "checkout already has a reservation; ignoring");
            return Ok(());
        }
        store::shift_to_reserved(tx.conn(), &wanted).await?;
        for (sku, level) in &levels {
            let after = level.available - wanted[sku];
            if crosses_low_stock(level.available, after, level.threshold) {
                let alert = LowStock {
                    product_sku: sku.clone(),
                    available: after,
                    threshold: level.threshold,
                };
                tx.publish(&event.cause(), &alert).await?;
            }
        }
        let reply = StockAvailable {
            cart_id: request.cart_id,
            customer_id: request.customer_id,
            items: request.items,
        };
        tx.publish(&event.cause(), &reply).await?;
        tracing::info!(cart_id = %reply.cart_id, "stock reserved");
    } else {
        tracing::info!(cart_id = %request.cart_id, shortages = short.len(), "stock rejected");
        let reply = StockRejected {
            cart_id: request.cart_id,
            customer_id: request.customer_id,
            reason: INSUFFICIENT_STOCK.into(),
            details: short,
        };
        tx.publish(&event.cause(), &reply).await?;
    }
    Ok(())
}

/// Returns a cancelled order's stock, once: only an active reservation is released.
async fn release(tx: &mut Tx, cancelled: OrderCancelled) -> Result<(), HandlerError> {
    let Some(items) = store::release_reservation(tx.conn(), cancelled.cart_id).await? else {
        tracing::warn!(order_id = %cancelled.order_id, "no active reservation to release");
        return Ok(());
    };
    let returned = requested_per_sku(&items).map_err(HandlerError::Poison)?;
    let skus: Vec<String> = returned.keys().cloned().collect();
    store::lock_levels(tx.conn(), &skus).await?;
    let back: BTreeMap<String, i32> = returned.into_iter().map(|(sku, n)| (sku, -n)).collect();
    store::shift_to_reserved(tx.conn(), &back).await?;
    tracing::info!(order_id = %cancelled.order_id, "stock returned");
    Ok(())
}

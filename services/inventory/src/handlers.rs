//! Inventory's reactions to `order-requested`, `order.cancelled` and `checkout.expired`.

use crate::domain::{ReservationStatus, Ruling, requested_per_sku, rule};
use crate::store::{self, CheckoutLines};
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpired, INSUFFICIENT_STOCK, OrderCancelled, OrderRequested, Sku,
    StockAvailable, StockRejected, Topic,
};
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Tx};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

pub struct InventoryHandler;

#[async_trait]
impl EventHandler for InventoryHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        match event.topic() {
            Some(Topic::OrderRequested) => reserve(tx, event.decode()?).await,
            Some(Topic::OrderCancelled) => release(tx, event.decode()?).await,
            Some(Topic::CheckoutExpired) => expire(tx, event.decode()?).await,
            _ => Err(event.unexpected()),
        }
    }

    /// Locks the stock rows of every request and cancellation in the batch, in SKU
    /// order, before any of them is applied. A batch that locked per message would hold
    /// one cart's rows while waiting for rows another batch holds, which may be waiting
    /// for these: a deadlock PostgreSQL breaks only after `deadlock_timeout` (1 s).
    /// Also for a batch of one: [`reserve`] reads its checkout's decision relying on
    /// its rows being locked by an earlier statement.
    async fn lock_batch(&self, tx: &mut Tx, batch: &[&Incoming]) -> Result<(), HandlerError> {
        let mut skus = BTreeSet::new();
        for event in batch {
            let items = match event.topic() {
                Some(Topic::OrderRequested) => event.decode::<OrderRequested>().map(|r| r.items),
                Some(Topic::OrderCancelled) => event.decode::<OrderCancelled>().map(|c| c.items),
                Some(Topic::CheckoutExpired) => event.decode::<CheckoutExpired>().map(|e| e.items),
                _ => continue,
            };
            skus.extend(
                items
                    .into_iter()
                    .flatten()
                    .map(|line| line.product_sku.into_string()),
            );
        }
        let skus: Vec<String> = skus.into_iter().collect();
        if !skus.is_empty() {
            store::lock_levels(tx.conn(), &skus).await?;
        }
        Ok(())
    }
}

/// Reserves every line or none, and says which in an event. Decided once per checkout:
/// a later request for the same checkout finds the decision (`domain::rule`).
async fn reserve(tx: &mut Tx, request: OrderRequested) -> Result<(), HandlerError> {
    let wanted = requested_per_sku(&request.items).map_err(HandlerError::Poison)?;
    let skus: Vec<String> = wanted.keys().map(Sku::to_string).collect();
    let checkout = CheckoutLines {
        checkout_id: request.checkout(),
        cart_id: request.cart_id,
        customer_id: request.customer_id,
        items: &request.items,
    };
    let checkout_id = checkout.checkout_id;
    // The stock rows were locked by `lock_batch`, in an earlier statement: a repeated
    // request for the same checkout that raced the first one has waited for it there,
    // and this statement, begun after, sees its decision.
    let (levels, previous) = store::levels_and_decision(tx.conn(), &skus, checkout_id).await?;
    match rule(previous.as_ref().map(|(s, _)| *s), &wanted, &levels) {
        Ruling::AnnounceAgain => {
            // A re-sent request (the cart's deadline passed): answer again from the
            // reservation; order decides once per checkout.
            let items = previous.map(|(_, items)| items).unwrap_or_default();
            let reply = StockAvailable {
                items,
                ..available(&request)
            };
            tx.publish(&reply).await?;
            tracing::info!(%checkout_id, "repeated request: reservation announced again");
        }
        Ruling::AlreadyDecided(status) => {
            tracing::info!(%checkout_id, status = status.as_str(), "request for a checkout decided before; nothing reserved");
        }
        Ruling::Reject(short) => {
            // With none of its SKUs stocked there were no rows to lock: a repeated
            // request racing the first waits here instead, and says nothing more.
            if !store::record_decision(tx.conn(), &checkout, ReservationStatus::Rejected).await? {
                tracing::warn!(%checkout_id, "checkout already decided; ignoring");
                return Ok(());
            }
            tracing::info!(%checkout_id, shortages = short.len(), "stock rejected");
            let reply = StockRejected {
                cart_id: request.cart_id,
                checkout_id: request.checkout_id,
                customer_id: request.customer_id,
                reason: INSUFFICIENT_STOCK.into(),
                details: short,
            };
            tx.publish(&reply).await?;
        }
        Ruling::Reserve { low_stock } => {
            // The decision row is keyed by checkout: a second request for it (under
            // another event id) waits here for the first and then reserves nothing.
            if !store::reserve(tx.conn(), &checkout, &wanted).await? {
                tracing::warn!(%checkout_id, "checkout already decided; ignoring");
                return Ok(());
            }
            for alert in &low_stock {
                tx.publish(alert).await?;
            }
            tx.publish(&available(&request)).await?;
            tracing::info!(%checkout_id, "stock reserved");
        }
    }
    Ok(())
}

/// The answer to a request whose every line is reserved.
fn available(request: &OrderRequested) -> StockAvailable {
    StockAvailable {
        cart_id: request.cart_id,
        checkout_id: request.checkout_id,
        expires_at: request.expires_at,
        customer_id: request.customer_id,
        items: request.items.clone(),
    }
}

/// A given-up checkout holds no stock: its reservation is released (once), or, if its
/// request has not arrived yet, recorded as expired so that it reserves nothing.
async fn expire(tx: &mut Tx, expired: CheckoutExpired) -> Result<(), HandlerError> {
    let checkout = CheckoutLines {
        checkout_id: expired.checkout_id,
        cart_id: expired.cart_id,
        customer_id: expired.customer_id,
        items: &expired.items,
    };
    if store::record_decision(tx.conn(), &checkout, ReservationStatus::Expired).await? {
        tracing::info!(checkout_id = %expired.checkout_id, "checkout given up before its request arrived; it will reserve nothing");
        return Ok(());
    }
    if return_stock(tx, expired.checkout_id).await? {
        tracing::info!(checkout_id = %expired.checkout_id, "given-up checkout: stock returned");
    }
    Ok(())
}

/// Returns a cancelled order's stock, once: only an active reservation is released.
async fn release(tx: &mut Tx, cancelled: OrderCancelled) -> Result<(), HandlerError> {
    if return_stock(tx, cancelled.checkout()).await? {
        tracing::info!(order_id = %cancelled.order_id, "stock returned");
    } else {
        tracing::warn!(order_id = %cancelled.order_id, "no active reservation to release");
    }
    Ok(())
}

/// Releases the checkout's reservation and moves its units back to available. False if
/// it holds none (never reserved, or released before).
async fn return_stock(tx: &mut Tx, checkout_id: Uuid) -> Result<bool, HandlerError> {
    let Some(items) = store::release_reservation(tx.conn(), checkout_id).await? else {
        return Ok(false);
    };
    let returned = requested_per_sku(&items).map_err(HandlerError::Poison)?;
    let skus: Vec<String> = returned.keys().map(Sku::to_string).collect();
    store::lock_levels(tx.conn(), &skus).await?;
    let back: BTreeMap<Sku, i32> = returned.into_iter().map(|(sku, n)| (sku, -n)).collect();
    store::shift_to_reserved(tx.conn(), &back).await?;
    Ok(true)
}

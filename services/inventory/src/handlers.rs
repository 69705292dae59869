//! Inventory's reactions to `order-requested`, `payment.declined`, `order.cancelled` and
//! `checkout.expired`.

use crate::domain::{self, ReservationStatus, Ruling, requested_per_sku, rule_in_order};
use crate::store::{self, CheckoutLines};
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpired, INSUFFICIENT_STOCK, LowStock, OrderCancelled, OrderRequested,
    PaymentDeclined, Sku, StockAvailable, StockRejected, Topic, total_cents,
};
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Item, Run, Tx};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use tracing::Instrument;
use uuid::Uuid;

pub struct InventoryHandler;

/// What inventory consumes, decoded.
pub enum StockMessage {
    Requested(StockRequest),
    Cancelled(OrderCancelled),
    Declined(PaymentDeclined),
    Expired(CheckoutExpired),
}

impl StockMessage {
    /// The lines whose stock rows applying this message locks.
    fn items(&self) -> &[cartflow_events::LineItem] {
        match self {
            StockMessage::Requested(r) => &r.request.items,
            StockMessage::Cancelled(c) => &c.items,
            StockMessage::Declined(d) => &d.items,
            StockMessage::Expired(e) => &e.items,
        }
    }
}

#[async_trait]
impl EventHandler for InventoryHandler {
    type Message = StockMessage;

    fn decode(&self, event: &Incoming) -> Result<StockMessage, HandlerError> {
        Ok(match event.topic() {
            Some(Topic::OrderRequested) => StockMessage::Requested(StockRequest::of(event)?),
            Some(Topic::OrderCancelled) => StockMessage::Cancelled(event.decode()?),
            Some(Topic::PaymentDeclined) => StockMessage::Declined(event.decode()?),
            Some(Topic::CheckoutExpired) => StockMessage::Expired(event.decode()?),
            _ => return Err(event.unexpected()),
        })
    }

    /// Locks the stock rows of every message in the batch, in SKU order, before any of
    /// them is applied. A batch that locked per message would hold one cart's rows
    /// while waiting for rows another batch holds, which may be waiting for these: a
    /// deadlock PostgreSQL breaks only after `deadlock_timeout` (1 s). Also for a batch
    /// of one: [`reserve`] reads its checkout's decision relying on its rows being
    /// locked by an earlier statement.
    async fn lock_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, StockMessage>,
    ) -> Result<(), HandlerError> {
        let skus: BTreeSet<String> = batch
            .iter()
            .flat_map(|item| item.message.items())
            .map(|line| line.product_sku.to_string())
            .collect();
        let skus: Vec<String> = skus.into_iter().collect();
        if !skus.is_empty() {
            store::lock_levels(tx.conn(), &skus).await?;
        }
        Ok(())
    }

    /// Consecutive requests are ruled on together, with two statements for all of
    /// them; a cancellation, decline or expiry between them is applied in its place,
    /// since it changes what a later request is ruled on.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, StockMessage>,
    ) -> Result<(), HandlerError> {
        for run in batch.runs_of(|m| match m {
            StockMessage::Requested(request) => Some(request),
            _ => None,
        }) {
            match run {
                Run::Picked(run, requests) => {
                    for (k, reply) in reserve(tx, &requests).await? {
                        reply.stage(tx, &run.get(k)).await?;
                    }
                }
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

/// A cancellation, decline or expiry: stock goes back, once. What it did is noted for
/// the saga's timeline (no event says it).
async fn apply_one(tx: &mut Tx, item: &Item<'_, StockMessage>) -> Result<(), HandlerError> {
    let note = match item.message {
        StockMessage::Requested(_) => unreachable!("`runs_of` picks every request"),
        StockMessage::Cancelled(cancelled) => release(tx, cancelled).await?,
        StockMessage::Declined(declined) => decline(tx, declined).await?,
        StockMessage::Expired(expired) => expire(tx, expired).await?,
    };
    item.note(tx, note).await?;
    Ok(())
}

/// A request for a checkout's stock, read and checked.
pub struct StockRequest {
    request: OrderRequested,
    wanted: BTreeMap<Sku, i32>,
}

impl StockRequest {
    fn of(event: &Incoming) -> Result<StockRequest, HandlerError> {
        let request: OrderRequested = event.decode()?;
        let wanted = requested_per_sku(&request.items).map_err(HandlerError::Poison)?;
        Ok(StockRequest { request, wanted })
    }

    fn asked(&self) -> domain::Request<'_> {
        domain::Request {
            checkout_id: self.request.checkout(),
            wanted: &self.wanted,
            items: &self.request.items,
        }
    }

    fn lines(&self) -> CheckoutLines<'_> {
        CheckoutLines {
            checkout_id: self.request.checkout(),
            cart_id: self.request.cart_id,
            customer_id: self.request.customer_id,
            items: &self.request.items,
        }
    }
}

/// What inventory answers a request with.
enum Reply {
    Available(StockAvailable),
    Rejected(StockRejected),
    LowStock(LowStock),
    /// Nothing to announce: a note for the saga's timeline instead.
    Note(String),
}

impl Reply {
    /// Stages the reply as caused by its request.
    async fn stage(&self, tx: &mut Tx, request: &Item<'_, StockMessage>) -> anyhow::Result<()> {
        match self {
            Reply::Available(event) => request.publish(tx, event).await.map(drop),
            Reply::Rejected(event) => request.publish(tx, event).await.map(drop),
            Reply::LowStock(event) => request.publish(tx, event).await.map(drop),
            Reply::Note(note) => Ok(request.note(tx, note).await?),
        }
    }
}

/// Reserves every line of each request or none, and says which; returns the replies,
/// each with the position of its request. Decided once per checkout: a later request
/// for the same checkout finds the decision (`domain::rule_in_order`).
///
/// The requests are ruled on in the order given, each against the levels the earlier
/// ones left, as if applied one after another: with one statement to read the levels
/// and decisions, and one to write every decision and move the units, whatever the
/// number of requests. The stock rows were locked by `lock_batch`, in an earlier
/// statement: a repeated request for the same checkout that raced the first has waited
/// for it there, and the read, begun after, sees its decision.
async fn reserve(
    tx: &mut Tx,
    requests: &[&StockRequest],
) -> Result<Vec<(usize, Reply)>, HandlerError> {
    let skus: BTreeSet<String> = requests
        .iter()
        .flat_map(|r| r.wanted.keys().map(Sku::to_string))
        .collect();
    let skus: Vec<String> = skus.into_iter().collect();
    let checkout_ids: Vec<Uuid> = requests.iter().map(|r| r.request.checkout()).collect();
    let (levels, decided) = store::levels_and_decisions(tx.conn(), &skus, &checkout_ids).await?;
    let asked: Vec<domain::Request> = requests.iter().map(|r| r.asked()).collect();
    let rulings = rule_in_order(&asked, levels, decided);
    let decisions: Vec<store::Decision> = requests
        .iter()
        .zip(&rulings)
        .filter_map(|(r, ruled)| match ruled.ruling {
            Ruling::Reserve { .. } => Some(store::Decision {
                checkout: r.lines(),
                status: ReservationStatus::Reserved,
                reserving: Some(&r.wanted),
            }),
            Ruling::Reject(_) => Some(store::Decision {
                checkout: r.lines(),
                status: ReservationStatus::Rejected,
                reserving: None,
            }),
            Ruling::AnnounceAgain | Ruling::AlreadyDecided(_) => None,
        })
        .collect();
    let recorded = if decisions.is_empty() {
        HashSet::new()
    } else {
        store::record_decisions(tx.conn(), &decisions).await?
    };
    let mut replies = Vec::new();
    for (k, (r, ruled)) in requests.iter().zip(rulings).enumerate() {
        let checkout_id = r.request.checkout();
        match ruled.ruling {
            Ruling::AnnounceAgain => {
                // A re-sent request (the cart's deadline passed): answer again from the
                // reservation; order decides once per checkout.
                let items = ruled.earlier_reservation;
                replies.push((
                    k,
                    Reply::Available(StockAvailable {
                        total_cents: Some(total_cents(&items)),
                        items,
                        ..available(&r.request)
                    }),
                ));
                tracing::info!(%checkout_id, "repeated request: reservation announced again");
            }
            Ruling::AlreadyDecided(status) => {
                tracing::info!(%checkout_id, status = status.as_str(), "request for a checkout decided before; nothing reserved");
                let note = match status {
                    ReservationStatus::Expired => {
                        "checkout given up before its request came: nothing will be reserved"
                            .to_string()
                    }
                    ReservationStatus::Declined => {
                        "payment declined before the request came: nothing reserved".to_string()
                    }
                    status => format!(
                        "checkout decided before ({}): nothing reserved",
                        status.as_str()
                    ),
                };
                replies.push((k, Reply::Note(note)));
            }
            // With none of its SKUs stocked there were no rows to lock: a repeated
            // request racing the first met it at the decision, and says nothing more.
            Ruling::Reject(_) if !recorded.contains(&checkout_id) => {
                tracing::warn!(%checkout_id, "checkout already decided; ignoring");
            }
            Ruling::Reject(short) => {
                tracing::info!(%checkout_id, shortages = short.len(), "stock rejected");
                replies.push((
                    k,
                    Reply::Rejected(StockRejected {
                        cart_id: r.request.cart_id,
                        checkout_id: r.request.checkout_id,
                        customer_id: r.request.customer_id,
                        reason: INSUFFICIENT_STOCK.into(),
                        details: short,
                    }),
                ));
            }
            // Not expected while `lock_batch` holds the rows (another decision would have
            // had to take other locks), but the levels the later requests were ruled on
            // assumed these units moved: fail, and the batch goes again one by one.
            Ruling::Reserve { .. } if !recorded.contains(&checkout_id) => {
                return Err(HandlerError::Transient(anyhow::anyhow!(
                    "checkout {checkout_id} was decided elsewhere while its stock rows were locked"
                )));
            }
            Ruling::Reserve { low_stock } => {
                replies.extend(
                    low_stock
                        .into_iter()
                        .map(|alert| (k, Reply::LowStock(alert))),
                );
                replies.push((k, Reply::Available(available(&r.request))));
                tracing::info!(%checkout_id, "stock reserved");
            }
        }
    }
    Ok(replies)
}

/// The answer to a request whose every line is reserved.
fn available(request: &OrderRequested) -> StockAvailable {
    StockAvailable {
        cart_id: request.cart_id,
        checkout_id: request.checkout_id,
        expires_at: request.expires_at,
        customer_id: request.customer_id,
        items: request.items.clone(),
        payment_method: request.payment_method.clone(),
        total_cents: Some(total_cents(&request.items)),
        shipping_address: request.shipping_address.clone(),
    }
}

/// A given-up checkout holds no stock: its reservation is released (once), or, if its
/// request has not arrived yet, recorded as expired so that it reserves nothing. Says
/// which, for the timeline.
async fn expire(tx: &mut Tx, expired: &CheckoutExpired) -> Result<&'static str, HandlerError> {
    let checkout = CheckoutLines {
        checkout_id: expired.checkout_id,
        cart_id: expired.cart_id,
        customer_id: expired.customer_id,
        items: &expired.items,
    };
    if store::record_decision(tx.conn(), &checkout, ReservationStatus::Expired).await? {
        tracing::info!(checkout_id = %expired.checkout_id, "checkout given up before its request arrived; it will reserve nothing");
        return Ok("checkout given up before its request came: nothing will be reserved");
    }
    if return_stock(tx, expired.checkout_id).await? {
        tracing::info!(checkout_id = %expired.checkout_id, "given-up checkout: stock returned");
        return Ok("checkout given up: reservation released, stock returned");
    }
    Ok("checkout given up: nothing held")
}

/// A declined checkout holds no stock: its reservation is released (once), or, if its
/// request has not arrived yet (payment answers beside the reservation), recorded as
/// declined so that it reserves nothing. Says which, for the timeline.
async fn decline(tx: &mut Tx, declined: &PaymentDeclined) -> Result<&'static str, HandlerError> {
    let checkout_id = declined.checkout_id;
    let checkout = CheckoutLines {
        checkout_id,
        cart_id: declined.cart_id,
        customer_id: declined.customer_id,
        items: &declined.items,
    };
    if store::record_decision(tx.conn(), &checkout, ReservationStatus::Declined).await? {
        tracing::info!(%checkout_id, "payment declined before the request arrived; it will reserve nothing");
        return Ok("payment declined before the request came: nothing will be reserved");
    }
    if return_stock(tx, checkout_id).await? {
        tracing::info!(%checkout_id, "payment declined: stock returned");
        Ok("payment declined: reservation released, stock returned")
    } else {
        tracing::info!(%checkout_id, "payment declined for a checkout that holds no stock (rejected or released before)");
        Ok("payment declined: nothing held")
    }
}

/// Returns a cancelled order's stock, once: only an active reservation is released.
async fn release(tx: &mut Tx, cancelled: &OrderCancelled) -> Result<&'static str, HandlerError> {
    if return_stock(tx, cancelled.checkout()).await? {
        tracing::info!(order_id = %cancelled.order_id, "stock returned");
        Ok("order cancelled: reservation released, stock returned")
    } else {
        tracing::warn!(order_id = %cancelled.order_id, "no active reservation to release");
        Ok("order cancelled: no active reservation to release")
    }
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

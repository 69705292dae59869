//! Order's part in the saga. It creates the order for a reserved and paid checkout
//! (`payment.authorized`: stock reserved, the total held on the card), and it is
//! the arbiter of how every checkout ends: with its order, or given up
//! (`checkout.expired`) — never both. Both decisions about one checkout are taken under
//! one lock (`store::lock_checkouts`, taken for the whole batch by `lock_batch`), and
//! the rules are `domain::on_*`.

use crate::domain::{self, CheckoutRecord, Ruling, on_expire_requested, on_stock_available};
use crate::store::{self, NewOrder};
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpireRequested, CheckoutExpired, CustomerDeleted, LineItem, OrderCreated,
    PaymentAuthorized, Topic, total_cents,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Run, Tx};
use std::collections::HashSet;
use tracing::Instrument;
use uuid::Uuid;

pub struct OrderHandler;

/// What order consumes, decoded.
// The consumer keeps each decoded message in a box of its own already: boxing the
// large variant again would cost a second allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum OrderMessage {
    /// Stock reserved and the total held on the card; its lines checked.
    Authorized(PaymentAuthorized),
    ExpireRequested(CheckoutExpireRequested),
    CustomerDeleted(CustomerDeleted),
}

impl OrderMessage {
    /// The checkout whose decision applying this message takes.
    fn checkout(&self) -> Option<Uuid> {
        match self {
            OrderMessage::Authorized(a) => Some(a.checkout()),
            OrderMessage::ExpireRequested(r) => Some(r.checkout_id),
            OrderMessage::CustomerDeleted(_) => None,
        }
    }
}

#[async_trait]
impl EventHandler for OrderHandler {
    type Message = OrderMessage;

    fn decode(&self, event: &Incoming) -> Result<OrderMessage, HandlerError> {
        Ok(match event.topic() {
            Some(Topic::PaymentAuthorized) => {
                let authorized: PaymentAuthorized = event.decode()?;
                if !lines_are_valid(&authorized) {
                    return Err(HandlerError::Poison(
                        "payment.authorized with empty or invalid lines".into(),
                    ));
                }
                OrderMessage::Authorized(authorized)
            }
            Some(Topic::CheckoutExpireRequested) => OrderMessage::ExpireRequested(event.decode()?),
            Some(Topic::CustomerDeleted) => OrderMessage::CustomerDeleted(event.decode()?),
            _ => return Err(event.unexpected()),
        })
    }

    /// Locks every checkout of the batch, in one order, before any is decided: a
    /// batch of answers and a batch of expiry requests that share checkouts would
    /// otherwise each hold one lock while waiting for the other's. Also for a batch of
    /// one: this is the lock the handlers decide under.
    async fn lock_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderMessage>,
    ) -> Result<(), HandlerError> {
        let checkouts: Vec<Uuid> = batch.iter().filter_map(|i| i.message.checkout()).collect();
        if !checkouts.is_empty() {
            store::lock_checkouts(tx.conn(), &checkouts).await?;
        }
        Ok(())
    }

    /// Consecutive authorizations become orders with one statement ([`create_orders`]);
    /// an expiry request between them is decided in its place (it must not be
    /// overtaken).
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderMessage>,
    ) -> Result<(), HandlerError> {
        for run in batch.runs_of(|m| match m {
            OrderMessage::Authorized(authorized) => Some(authorized),
            _ => None,
        }) {
            let rest = match run {
                Run::Picked(run, authorized) => {
                    create_orders(tx, &run, &authorized).await?;
                    continue;
                }
                Run::Rest(rest) => rest,
            };
            for item in rest.iter() {
                item.act_for(tx);
                let span = item.span();
                match item.message {
                    OrderMessage::ExpireRequested(request) => {
                        expire_requested(tx, request).instrument(span).await?
                    }
                    OrderMessage::CustomerDeleted(gone) => {
                        deleted::on_customer_deleted(tx, gone)
                            .instrument(span)
                            .await?
                    }
                    OrderMessage::Authorized(_) => {
                        unreachable!("`runs_of` picks every authorization")
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether the reservation's lines can make an order: some, none empty or negative.
fn lines_are_valid(reserved: &PaymentAuthorized) -> bool {
    !reserved.items.is_empty()
        && reserved
            .items
            .iter()
            .all(|i| i.quantity > 0 && i.unit_price_cents >= 0)
}

/// The orders of a run of authorizations: those that are their checkout's first in
/// the run and within the expiry go in with one statement; every other one (a
/// checkout decided before, a late one, a repeated one) is ruled on after, one by one,
/// on its checkout's record. That reads as applying them in order: the ones ruled on
/// after are either of other checkouts or later answers for a checkout already
/// decided here. The clock is read once for the run.
async fn create_orders(
    tx: &mut Tx,
    run: &Batch<'_, OrderMessage>,
    authorized: &[&PaymentAuthorized],
) -> Result<(), HandlerError> {
    let now = chrono::Utc::now();
    let authorized = |k: usize| authorized[k];
    let mut checkouts = HashSet::new();
    let in_time: Vec<usize> = (0..run.len())
        .filter(|&k| {
            let reserved = authorized(k);
            // Only a checkout's first answer may go in at once: a later one overtaking
            // an earlier one ruled on after (say, past the expiry) would change the
            // outcome.
            checkouts.insert(reserved.checkout()) && domain::is_in_time(reserved.expires_at, now)
        })
        .collect();
    let orders: Vec<NewOrder> = in_time
        .iter()
        .map(|&k| new_order(authorized(k).checkout(), authorized(k)))
        .collect();
    let created = match orders.is_empty() {
        true => Default::default(),
        false => store::create_all(tx.conn(), &orders).await?,
    };
    let mut ordered = vec![false; run.len()];
    for &k in &in_time {
        let reserved = authorized(k);
        let checkout_id = reserved.checkout();
        let Some(&order_id) = created.get(&checkout_id) else {
            continue;
        };
        let item = run.get(k);
        let announced = announcement(order_id, checkout_id, reserved);
        item.publish(tx, &announced).await?;
        item.in_span(|| log_confirmed(&announced));
        ordered[k] = true;
    }
    for k in (0..run.len()).filter(|&k| !ordered[k]) {
        let item = run.get(k);
        item.act_for(tx);
        rule_on(tx, authorized(k), now)
            .instrument(item.span())
            .await?;
    }
    Ok(())
}

/// An authorization that did not make its order at once: ruled on by what its checkout
/// has on record (already ordered or given up, or past the expiry).
async fn rule_on(
    tx: &mut Tx,
    reserved: &PaymentAuthorized,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), HandlerError> {
    let checkout_id = reserved.checkout();
    let record = store::checkout_record(tx.conn(), checkout_id).await?;
    match on_stock_available(record, reserved.expires_at, now) {
        Ruling::CreateOrder => {
            let order_id = store::create(tx.conn(), &new_order(checkout_id, reserved))
                .await?
                .ok_or_else(|| anyhow::anyhow!("checkout {checkout_id} decided under its lock"))?;
            let created = announcement(order_id, checkout_id, reserved);
            tx.publish(&created).await?;
            log_confirmed(&created);
            Ok(())
        }
        Ruling::Expire => {
            tracing::info!(%checkout_id, cart_id = %reserved.cart_id, "stock reserved past the checkout's expiry: given up");
            let (cart_id, customer_id) = (reserved.cart_id, reserved.customer_id);
            give_up(tx, checkout_id, cart_id, customer_id, &reserved.items).await
        }
        Ruling::AlreadyOrdered(order_id) => {
            tracing::warn!(%checkout_id, %order_id, "checkout already has an order; ignoring");
            Ok(())
        }
        Ruling::AlreadyExpired => {
            // Said again, so that payment (which voids what it holds for a given-up
            // checkout) hears it whatever raced what; every consumer takes it once.
            if let Some(expired) = store::expired(tx.conn(), checkout_id).await? {
                tx.publish(&expired).await?;
            }
            tracing::info!(%checkout_id, "authorization for a given-up checkout: no order; checkout.expired said again so payment voids it");
            Ok(())
        }
    }
}

fn new_order(checkout_id: Uuid, reserved: &PaymentAuthorized) -> NewOrder<'_> {
    NewOrder {
        checkout_id,
        cart_id: reserved.cart_id,
        customer_id: reserved.customer_id,
        items: &reserved.items,
        total_cents: total_cents(&reserved.items),
        payment_id: Some(reserved.payment_id),
        shipping_address: reserved.shipping_address.as_ref(),
    }
}

fn announcement(order_id: Uuid, checkout_id: Uuid, reserved: &PaymentAuthorized) -> OrderCreated {
    OrderCreated {
        order_id,
        cart_id: reserved.cart_id,
        checkout_id: Some(checkout_id),
        customer_id: reserved.customer_id,
        items: reserved.items.clone(),
        total_cents: total_cents(&reserved.items),
        shipping_address: reserved.shipping_address.clone(),
    }
}

fn log_confirmed(created: &OrderCreated) {
    tracing::info!(order_id = %created.order_id, cart_id = %created.cart_id,
        total_cents = created.total_cents, "order confirmed");
}

/// The cart gave up waiting: expire the checkout, or answer with its order.
async fn expire_requested(
    tx: &mut Tx,
    request: &CheckoutExpireRequested,
) -> Result<(), HandlerError> {
    let checkout_id = request.checkout_id;
    match on_expire_requested(locked_record(tx, checkout_id).await?) {
        Ruling::Expire => {
            tracing::info!(%checkout_id, cart_id = %request.cart_id, "checkout given up");
            let (cart_id, customer_id) = (request.cart_id, request.customer_id);
            give_up(tx, checkout_id, cart_id, customer_id, &request.items).await
        }
        Ruling::AlreadyOrdered(order_id) => {
            // The cart has not seen `order.created` yet: say it again. Notification
            // tells the customer once per order however often it is said.
            let order = store::get(tx.conn(), order_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("order {order_id} vanished"))?;
            let created = OrderCreated {
                order_id,
                cart_id: order.cart_id,
                checkout_id: Some(checkout_id),
                customer_id: order.customer_id,
                items: order.items,
                total_cents: order.total_cents,
                shipping_address: order.shipping_address,
            };
            tx.publish(&created).await?;
            tracing::info!(%checkout_id, %order_id, "expiry refused: the checkout has its order; announced again");
            Ok(())
        }
        Ruling::AlreadyExpired => {
            if let Some(expired) = store::expired(tx.conn(), checkout_id).await? {
                tx.publish(&expired).await?;
            }
            tracing::info!(%checkout_id, "checkout already given up; announced again");
            Ok(())
        }
        Ruling::CreateOrder => unreachable!("an expiry request never creates an order"),
    }
}

/// What was decided so far for the checkout, which its batch has locked.
async fn locked_record(tx: &mut Tx, checkout_id: Uuid) -> Result<CheckoutRecord, HandlerError> {
    Ok(store::checkout_record(tx.conn(), checkout_id).await?)
}

/// Records the tombstone and announces the checkout's end.
async fn give_up(
    tx: &mut Tx,
    checkout_id: Uuid,
    cart_id: Uuid,
    customer_id: Uuid,
    items: &[LineItem],
) -> Result<(), HandlerError> {
    let expired = CheckoutExpired {
        checkout_id,
        cart_id,
        customer_id,
        items: items.to_vec(),
    };
    store::expire(tx.conn(), &expired).await?;
    tx.publish(&expired).await?;
    Ok(())
}

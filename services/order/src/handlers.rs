//! Order's part in the saga. It creates the order for a reserved and paid checkout
//! (`payment.authorized`: stock reserved, the total held on the card), and it is
//! the arbiter of how every checkout ends: with its order, or given up
//! (`checkout.expired`) — never both. Both decisions about one checkout are taken under
//! one lock (`store::lock_checkouts`, taken for the whole batch by `lock_batch`), and
//! the rules are `domain::on_*`.

use crate::domain::{CheckoutRecord, Ruling, on_expire_requested, on_stock_available};
use crate::store::{self, NewOrder};
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpireRequested, CheckoutExpired, OrderCreated, PaymentAuthorized, Topic,
    total_cents,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Together, Tx};
use std::collections::HashSet;
use uuid::Uuid;

pub struct OrderHandler;

#[async_trait]
impl EventHandler for OrderHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        match event.topic() {
            Some(Topic::PaymentAuthorized) => payment_authorized(tx, event.decode()?).await,
            Some(Topic::CheckoutExpireRequested) => expire_requested(tx, event.decode()?).await,
            Some(Topic::CustomerDeleted) => deleted::on_customer_deleted(tx, event).await,
            _ => Err(event.unexpected()),
        }
    }

    /// Locks every checkout of the batch, in one order, before any is decided: a
    /// batch of answers and a batch of expiry requests that share checkouts would
    /// otherwise each hold one lock while waiting for the other's. Also for a batch of
    /// one: this is the lock the handlers decide under.
    async fn lock_batch(&self, tx: &mut Tx, batch: &[&Incoming]) -> Result<(), HandlerError> {
        let checkouts: Vec<Uuid> = batch
            .iter()
            .filter_map(|event| match event.topic() {
                Some(Topic::PaymentAuthorized) => event
                    .decode::<PaymentAuthorized>()
                    .ok()
                    .map(|s| s.checkout()),
                Some(Topic::CheckoutExpireRequested) => event
                    .decode::<CheckoutExpireRequested>()
                    .ok()
                    .map(|r| r.checkout_id),
                _ => None,
            })
            .collect();
        if !checkouts.is_empty() {
            store::lock_checkouts(tx.conn(), &checkouts).await?;
        }
        Ok(())
    }

    /// A batch's reservations become orders with one statement ([`create_orders`]).
    async fn handle_together(
        &self,
        tx: &mut Tx,
        batch: &Together<'_>,
    ) -> Result<Vec<bool>, HandlerError> {
        let created = create_orders(tx, batch).await?;
        Ok(batch.taken(&[&created]))
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

async fn payment_authorized(tx: &mut Tx, reserved: PaymentAuthorized) -> Result<(), HandlerError> {
    if !lines_are_valid(&reserved) {
        return Err(HandlerError::Poison(
            "payment.authorized with empty or invalid lines".into(),
        ));
    }
    let checkout_id = reserved.checkout();
    let now = chrono::Utc::now();
    // The usual case in one statement: a checkout within its expiry gets its order
    // unless it was decided before, which `create` checks; only then is the record read.
    if on_stock_available(CheckoutRecord::Undecided, reserved.expires_at, now)
        == Ruling::CreateOrder
        && create_order(tx, checkout_id, &reserved).await?
    {
        return Ok(());
    }
    let record = store::checkout_record(tx.conn(), checkout_id).await?;
    match on_stock_available(record, reserved.expires_at, now) {
        Ruling::CreateOrder => create_order(tx, checkout_id, &reserved).await.map(drop),
        Ruling::Expire => {
            let expired = CheckoutExpired {
                checkout_id,
                cart_id: reserved.cart_id,
                customer_id: reserved.customer_id,
                items: reserved.items,
            };
            tracing::info!(%checkout_id, cart_id = %expired.cart_id, "stock reserved past the checkout's expiry: given up");
            give_up(tx, expired).await
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

/// Creates the checkout's order and announces it; false if the checkout was decided
/// before (nothing changes).
async fn create_order(
    tx: &mut Tx,
    checkout_id: Uuid,
    reserved: &PaymentAuthorized,
) -> Result<bool, HandlerError> {
    let Some(order_id) = store::create(tx.conn(), &new_order(checkout_id, reserved)).await? else {
        return Ok(false);
    };
    let created = announcement(order_id, checkout_id, reserved);
    tx.publish(&created).await?;
    log_confirmed(&created);
    Ok(true)
}

/// The orders of a batch's reservations, all with one statement: each reservation
/// that is its checkout's first answer in the batch, within the expiry, with valid
/// lines, and before the batch's first event of another topic
/// ([`Together::pick_leading`]: an expiry request must not be overtaken). Returns the
/// positions whose order went in; `handle` rules on the rest one by one, as it would
/// have. The clock is read once for the batch.
async fn create_orders(tx: &mut Tx, batch: &Together<'_>) -> Result<Vec<usize>, HandlerError> {
    let now = chrono::Utc::now();
    let mut checkouts = HashSet::new();
    let answers = batch.pick_leading(Topic::PaymentAuthorized, |_, event| {
        let reserved: PaymentAuthorized = event.decode().ok()?;
        let usual = lines_are_valid(&reserved)
            && on_stock_available(CheckoutRecord::Undecided, reserved.expires_at, now)
                == Ruling::CreateOrder;
        // Only a checkout's first answer may be taken: a later one overtaking an earlier
        // one left to `handle` (say, past the expiry) would change the outcome.
        let first_for_its_checkout = checkouts.insert(reserved.checkout());
        (first_for_its_checkout && usual).then_some(reserved)
    });
    if answers.items.is_empty() {
        return Ok(Vec::new());
    }
    let orders: Vec<NewOrder> = answers
        .items
        .iter()
        .map(|reserved| new_order(reserved.checkout(), reserved))
        .collect();
    let created = store::create_all(tx.conn(), &orders).await?;
    let mut taken = Vec::with_capacity(created.len());
    for (&i, reserved) in answers.positions.iter().zip(&answers.items) {
        let checkout_id = reserved.checkout();
        let Some(&order_id) = created.get(&checkout_id) else {
            continue;
        };
        let announced = announcement(order_id, checkout_id, reserved);
        batch.publish(tx, i, &announced).await?;
        batch.in_span(i, || log_confirmed(&announced));
        taken.push(i);
    }
    Ok(taken)
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
    request: CheckoutExpireRequested,
) -> Result<(), HandlerError> {
    let checkout_id = request.checkout_id;
    match on_expire_requested(locked_record(tx, checkout_id).await?) {
        Ruling::Expire => {
            let expired = CheckoutExpired {
                checkout_id,
                cart_id: request.cart_id,
                customer_id: request.customer_id,
                items: request.items,
            };
            tracing::info!(%checkout_id, cart_id = %expired.cart_id, "checkout given up");
            give_up(tx, expired).await
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
async fn give_up(tx: &mut Tx, expired: CheckoutExpired) -> Result<(), HandlerError> {
    store::expire(tx.conn(), &expired).await?;
    tx.publish(&expired).await?;
    Ok(())
}

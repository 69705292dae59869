//! Order's part in the saga. It creates the order for a reserved checkout, and it is
//! the arbiter of how every checkout ends: with its order, or given up
//! (`checkout.expired`) — never both. Both decisions about one checkout are taken under
//! one lock (`store::lock_checkouts`, taken for the whole batch by `lock_batch`), and
//! the rules are `domain::on_*`.

use crate::domain::{CheckoutRecord, Ruling, on_expire_requested, on_stock_available};
use crate::store::{self, NewOrder};
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpireRequested, CheckoutExpired, OrderCreated, StockAvailable, Topic,
    total_cents,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Tx};
use uuid::Uuid;

pub struct OrderHandler;

#[async_trait]
impl EventHandler for OrderHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        match event.topic() {
            Some(Topic::StockAvailable) => stock_available(tx, event.decode()?).await,
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
                Some(Topic::StockAvailable) => {
                    event.decode::<StockAvailable>().ok().map(|s| s.checkout())
                }
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
}

async fn stock_available(tx: &mut Tx, reserved: StockAvailable) -> Result<(), HandlerError> {
    if reserved.items.is_empty()
        || reserved
            .items
            .iter()
            .any(|i| i.quantity <= 0 || i.unit_price_cents < 0)
    {
        return Err(HandlerError::Poison(
            "stock-available with empty or invalid lines".into(),
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
            tracing::info!(%checkout_id, "stock reserved for a given-up checkout: no order; inventory releases it on checkout.expired");
            Ok(())
        }
    }
}

/// Creates the checkout's order and announces it; false if the checkout was decided
/// before (nothing changes).
async fn create_order(
    tx: &mut Tx,
    checkout_id: Uuid,
    reserved: &StockAvailable,
) -> Result<bool, HandlerError> {
    let total = total_cents(&reserved.items);
    let new = NewOrder {
        checkout_id,
        cart_id: reserved.cart_id,
        customer_id: reserved.customer_id,
        items: &reserved.items,
        total_cents: total,
    };
    let Some(order_id) = store::create(tx.conn(), &new).await? else {
        return Ok(false);
    };
    let created = OrderCreated {
        order_id,
        cart_id: reserved.cart_id,
        checkout_id: Some(checkout_id),
        customer_id: reserved.customer_id,
        items: reserved.items.clone(),
        total_cents: total,
    };
    tx.publish(&created).await?;
    tracing::info!(%order_id, cart_id = %created.cart_id, total_cents = total, "order confirmed");
    Ok(true)
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

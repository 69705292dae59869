//! Order's part in the saga. It creates the order for a checkout that holds both
//! answers to its request, given side by side: inventory's (`stock-available`: every
//! line reserved) and payment's (`payment.authorized`: the total held on the card). It
//! is the arbiter of how every checkout ends: with its order, or given up
//! (`checkout.expired`) — never both. Every decision about one checkout is taken under
//! one lock (`store::lock_checkouts`, taken for the whole batch by `lock_batch`), and
//! the rules are `domain::on_*`.

use crate::domain::{CheckoutRecord, Ruling, on_answer, on_expire_requested};
use crate::store::{self, Answer, NewOrder};
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpireRequested, CheckoutExpired, CustomerDeleted, LineItem, OrderCreated,
    PaymentAuthorized, StockAvailable, Topic, total_cents,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Tx};
use tracing::Instrument;
use uuid::Uuid;

pub struct OrderHandler;

/// What order consumes, decoded.
// The consumer keeps each decoded message in a box of its own already: boxing the
// large variant again would cost a second allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum OrderMessage {
    /// Every line reserved.
    Reserved(StockAvailable),
    /// The total held on the card; its lines checked.
    Authorized(PaymentAuthorized),
    ExpireRequested(CheckoutExpireRequested),
    CustomerDeleted(CustomerDeleted),
}

impl OrderMessage {
    /// The checkout whose decision applying this message takes.
    fn checkout(&self) -> Option<Uuid> {
        match self {
            OrderMessage::Reserved(r) => Some(r.checkout()),
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
            Some(Topic::StockAvailable) => OrderMessage::Reserved(event.decode()?),
            Some(Topic::PaymentAuthorized) => {
                let authorized: PaymentAuthorized = event.decode()?;
                if !lines_are_valid(&authorized.items) {
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

    /// One by one, in order: each answer is recorded (and makes its order when it is
    /// the second), each expiry request ruled on, under the batch's locks. The clock is
    /// read once for the batch.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderMessage>,
    ) -> Result<(), HandlerError> {
        let now = chrono::Utc::now();
        for item in batch.iter() {
            item.act_for(tx);
            let span = item.span();
            match item.message {
                OrderMessage::Reserved(reserved) => {
                    let answer = Answered::Stock(reserved);
                    answered(tx, answer, now).instrument(span).await?
                }
                OrderMessage::Authorized(authorized) => {
                    let answer = Answered::Payment(authorized);
                    answered(tx, answer, now).instrument(span).await?
                }
                OrderMessage::ExpireRequested(request) => {
                    expire_requested(tx, request).instrument(span).await?
                }
                OrderMessage::CustomerDeleted(gone) => {
                    deleted::on_customer_deleted(tx, gone)
                        .instrument(span)
                        .await?
                }
            }
        }
        Ok(())
    }
}

/// Whether the lines can make an order: some, none empty or negative.
fn lines_are_valid(items: &[LineItem]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.quantity > 0 && i.unit_price_cents >= 0)
}

/// One of the two answers to a checkout's request, as it came.
#[derive(Clone, Copy)]
enum Answered<'a> {
    Stock(&'a StockAvailable),
    Payment(&'a PaymentAuthorized),
}

impl Answered<'_> {
    fn checkout(&self) -> Uuid {
        match self {
            Answered::Stock(s) => s.checkout(),
            Answered::Payment(p) => p.checkout(),
        }
    }

    fn expires_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Answered::Stock(s) => s.expires_at,
            Answered::Payment(p) => p.expires_at,
        }
    }

    /// What a checkout given up on this answer announces.
    fn expired(&self) -> CheckoutExpired {
        let (cart_id, customer_id, items) = match self {
            Answered::Stock(s) => (s.cart_id, s.customer_id, &s.items),
            Answered::Payment(p) => (p.cart_id, p.customer_id, &p.items),
        };
        CheckoutExpired {
            checkout_id: self.checkout(),
            cart_id,
            customer_id,
            items: items.clone(),
        }
    }
}

/// An answer to a checkout's request, ruled on by what its checkout has on record: the
/// order once both answers are in (in time), the checkout given up when one comes past
/// the expiry, nothing more for a checkout decided before.
async fn answered(
    tx: &mut Tx,
    answer: Answered<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), HandlerError> {
    let checkout_id = answer.checkout();
    let record = store::checkout_record(tx.conn(), checkout_id).await?;
    match on_answer(record, answer.expires_at(), now) {
        Ruling::Record => {
            let stored = match answer {
                Answered::Stock(_) => Answer::StockReserved,
                Answered::Payment(p) => Answer::Authorized(p),
            };
            let Some(authorized) = store::record_answer(tx.conn(), checkout_id, stored).await?
            else {
                tracing::info!(%checkout_id, waiting_for = match answer {
                    Answered::Stock(_) => "payment",
                    Answered::Payment(_) => "stock",
                }, "answer recorded; the order waits for the other");
                return Ok(());
            };
            let order_id = store::create(tx.conn(), &new_order(checkout_id, &authorized))
                .await?
                .ok_or_else(|| anyhow::anyhow!("checkout {checkout_id} decided under its lock"))?;
            let created = announcement(order_id, checkout_id, &authorized);
            tx.publish(&created).await?;
            log_confirmed(&created);
            Ok(())
        }
        Ruling::Expire => {
            let expired = answer.expired();
            tracing::info!(%checkout_id, cart_id = %expired.cart_id, "answer past the checkout's expiry: given up");
            give_up(tx, expired).await
        }
        Ruling::AlreadyOrdered(order_id) => {
            tracing::warn!(%checkout_id, %order_id, "checkout already has an order; ignoring");
            Ok(())
        }
        Ruling::AlreadyExpired => {
            // Said again, so that payment (which voids what it holds for a given-up
            // checkout) and inventory hear it whatever raced what; every consumer takes
            // it once.
            if let Some(expired) = store::expired(tx.conn(), checkout_id).await? {
                tx.publish(&expired).await?;
            }
            tracing::info!(%checkout_id, "answer for a given-up checkout: no order; checkout.expired said again");
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
            let expired = CheckoutExpired {
                checkout_id,
                cart_id: request.cart_id,
                customer_id: request.customer_id,
                items: request.items.clone(),
            };
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
        Ruling::Record => unreachable!("an expiry request is no answer"),
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

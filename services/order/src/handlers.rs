//! Order's part in the saga. It creates the order for a checkout that holds both
//! answers to its request, given side by side: inventory's (`stock-available`: every
//! line reserved) and payment's (`payment.authorized`: the total held on the card). It
//! is the arbiter of how every checkout ends: with its order, or given up
//! (`checkout.expired`) — never both. Every decision about one checkout is taken under
//! one lock (`store::lock_checkouts`, taken for the whole batch by `lock_batch`), and
//! the rules are `domain::on_*`.

use crate::domain::{CheckoutRecord, Ruling, on_answer, on_expire_requested};
use crate::store::{self, Held, NewOrder};
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpireRequested, CheckoutExpired, CustomerDeleted, LineItem, OrderCreated,
    PaymentAuthorized, StockAvailable, Topic, total_cents,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Run, Tx};
use std::collections::HashMap;
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

    /// In order: consecutive answers together ([`answered_together`]), and an expiry
    /// request or a customer's deletion between them in its place, since it changes
    /// what a later answer is ruled on. The clock is read once for the batch.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, OrderMessage>,
    ) -> Result<(), HandlerError> {
        let now = chrono::Utc::now();
        for run in batch.runs_of(|m| Answered::of(m).map(|_| m)) {
            match run {
                Run::Picked(run, _) => answered_together(tx, &run, now).await?,
                Run::Rest(rest) => {
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
                            OrderMessage::Reserved(_) | OrderMessage::Authorized(_) => {
                                unreachable!("`runs_of` picks every answer")
                            }
                        }
                    }
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

impl<'a> Answered<'a> {
    fn of(message: &'a OrderMessage) -> Option<Answered<'a>> {
        match message {
            OrderMessage::Reserved(r) => Some(Answered::Stock(r)),
            OrderMessage::Authorized(a) => Some(Answered::Payment(a)),
            _ => None,
        }
    }

    /// What is still missing once this answer is in, for the logs.
    fn other(&self) -> &'static str {
        match self {
            Answered::Stock(_) => "payment",
            Answered::Payment(_) => "stock",
        }
    }

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

/// Consecutive answers, each ruled on in order by what its checkout holds, as it would
/// be alone: recorded towards the order, which is made once both answers are in (in
/// time); the checkout given up when one comes past the expiry; nothing more for a
/// checkout decided before. What the checkouts hold is read with one statement and what
/// the answers leave written with two (the answers kept waiting, the orders made); a
/// checkout given up on the way is given up in its place.
async fn answered_together(
    tx: &mut Tx,
    run: &Batch<'_, OrderMessage>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), HandlerError> {
    let answers: Vec<Answered> = run.iter().filter_map(|i| Answered::of(i.message)).collect();
    let checkouts: Vec<Uuid> = answers.iter().map(Answered::checkout).collect();
    let mut held: HashMap<Uuid, Held> = store::held(tx.conn(), &checkouts).await?;
    // The checkouts whose answers changed, and the orders made: (answer, order id).
    let mut answered: Vec<Uuid> = Vec::new();
    let mut made: Vec<(usize, Uuid)> = Vec::new();
    for (k, answer) in answers.iter().enumerate() {
        let item = run.get(k);
        item.act_for(tx);
        let checkout_id = answer.checkout();
        let checkout = held.entry(checkout_id).or_default();
        match on_answer(checkout.record, answer.expires_at(), now) {
            Ruling::Record => {
                take(checkout, *answer);
                answered.push(checkout_id);
                if checkout.stock_reserved && checkout.authorized.is_some() {
                    let order_id = Uuid::new_v4();
                    checkout.record = CheckoutRecord::Ordered(order_id);
                    made.push((k, order_id));
                } else {
                    item.in_span(|| tracing::info!(%checkout_id, waiting_for = answer.other(),
                        "answer recorded; the order waits for the other"));
                }
            }
            Ruling::Expire => {
                let expired = answer.expired();
                item.in_span(|| tracing::info!(%checkout_id, cart_id = %expired.cart_id,
                    "answer past the checkout's expiry: given up"));
                give_up(tx, expired).instrument(item.span()).await?;
                // The tombstone took any answer kept with it.
                *checkout = Held {
                    record: CheckoutRecord::Expired,
                    ..Held::default()
                };
            }
            Ruling::AlreadyOrdered(order_id) => item.in_span(|| {
                tracing::warn!(%checkout_id, %order_id, "checkout already has an order; ignoring")
            }),
            Ruling::AlreadyExpired => {
                // Said again, so that payment (which voids what it holds for a given-up
                // checkout) and inventory hear it whatever raced what; every consumer
                // takes it once.
                if let Some(expired) = store::expired(tx.conn(), checkout_id).await? {
                    item.publish(tx, &expired).await?;
                }
                item.in_span(|| tracing::info!(%checkout_id,
                    "answer for a given-up checkout: no order; checkout.expired said again"));
            }
        }
    }
    answered.sort_unstable();
    answered.dedup();
    let mut waiting = Vec::new();
    let mut ordered = Vec::new();
    for checkout_id in &answered {
        let checkout = &held[checkout_id];
        match checkout.record {
            CheckoutRecord::Undecided => waiting.push((*checkout_id, checkout)),
            CheckoutRecord::Ordered(_) if checkout.stored => ordered.push(*checkout_id),
            _ => {}
        }
    }
    store::keep_answers(tx.conn(), &waiting, &ordered).await?;
    if made.is_empty() {
        return Ok(());
    }
    let orders: Vec<NewOrder> = made
        .iter()
        .map(|&(k, order_id)| {
            let checkout_id = answers[k].checkout();
            let authorized = held[&checkout_id].authorized.as_ref();
            new_order(
                order_id,
                checkout_id,
                authorized.expect("an order is made with both answers"),
            )
        })
        .collect();
    let created = store::create_all(tx.conn(), &orders).await?;
    for (&(k, order_id), order) in made.iter().zip(&orders) {
        if created.get(&order.checkout_id) != Some(&order_id) {
            let checkout_id = order.checkout_id;
            return Err(anyhow::anyhow!("checkout {checkout_id} decided under its lock").into());
        }
        let authorized = held[&order.checkout_id]
            .authorized
            .as_ref()
            .expect("ordered");
        let announced = announcement(order_id, order.checkout_id, authorized);
        let item = run.get(k);
        item.publish(tx, &announced).await?;
        item.in_span(|| log_confirmed(&announced));
    }
    Ok(())
}

/// Adds an answer to what its checkout holds; a repeated one changes nothing, and the
/// first authorization stays the one the order is made from.
fn take(checkout: &mut Held, answer: Answered<'_>) {
    match answer {
        Answered::Stock(_) => checkout.stock_reserved = true,
        Answered::Payment(p) => {
            if checkout.authorized.is_none() {
                checkout.authorized = Some(p.clone());
            }
        }
    }
}

fn new_order(order_id: Uuid, checkout_id: Uuid, reserved: &PaymentAuthorized) -> NewOrder<'_> {
    NewOrder {
        id: order_id,
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

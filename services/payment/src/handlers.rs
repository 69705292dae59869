//! Payment's part in the saga. Each consumed event records, in its own transaction,
//! what must happen to the checkout's money (authorize, capture, void, refund); the
//! provider worker ([`crate::worker`]) then asks the provider and announces the answer.
//! Decisions on one checkout are taken under its row's lock ([`store::lock`]; a batch
//! locks and reads its payments with one statement, [`store::Locked`]).
//!
//! Payment runs beside the reservation: it authorizes on the cart's `order-requested`
//! while inventory reserves, and order makes the order once it holds both answers. A
//! short stock (`stock.rejected`) voids what was held, like a given-up checkout; a
//! decline releases the reservation (inventory) or keeps it from being made. Measured
//! against payment after the reservation in BENCHMARKS.md.

use crate::domain::{self, OnCancelled, OnGivenUp, PaymentStatus};
use crate::store::{self, NewPayment};
use crate::worker::Work;
use async_trait::async_trait;
use cartflow_events::{
    Checkout, CheckoutExpired, LineItem, OrderCancelled, OrderCreated, OrderRequested,
    PaymentAuthorized, PaymentDeclined, StockRejected, Topic, total_cents,
};
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Run, Tx};
use std::collections::HashSet;
use tracing::Instrument;

/// Why a checkout without a payment method is declined.
pub const PAYMENT_METHOD_MISSING: &str = "payment_method_missing";

pub struct PaymentHandler {
    pub currency: String,
    /// The provider worker, handed each step recorded here once its transaction commits.
    pub work: Work,
}

/// What payment consumes, decoded.
pub enum PaymentMessage {
    OrderRequested(OrderRequested),
    StockRejected(StockRejected),
    OrderCreated(OrderCreated),
    CheckoutExpired(CheckoutExpired),
    OrderCancelled(OrderCancelled),
}

impl PaymentMessage {
    /// The checkout whose money this message decides on.
    fn checkout(&self) -> uuid::Uuid {
        match self {
            PaymentMessage::OrderRequested(e) => e.checkout(),
            PaymentMessage::StockRejected(e) => e.checkout(),
            PaymentMessage::OrderCreated(e) => e.checkout(),
            PaymentMessage::CheckoutExpired(e) => e.checkout_id,
            PaymentMessage::OrderCancelled(e) => e.checkout(),
        }
    }
}

#[async_trait]
impl EventHandler for PaymentHandler {
    type Message = PaymentMessage;

    fn decode(&self, event: &Incoming) -> Result<PaymentMessage, HandlerError> {
        Ok(match event.topic() {
            Some(Topic::OrderRequested) => PaymentMessage::OrderRequested(event.decode()?),
            Some(Topic::StockRejected) => PaymentMessage::StockRejected(event.decode()?),
            Some(Topic::OrderCreated) => PaymentMessage::OrderCreated(event.decode()?),
            Some(Topic::CheckoutExpired) => PaymentMessage::CheckoutExpired(event.decode()?),
            Some(Topic::OrderCancelled) => PaymentMessage::OrderCancelled(event.decode()?),
            _ => return Err(event.unexpected()),
        })
    }

    /// Locks the batch's payments in checkout order before any is decided
    /// ([`store::lock_all`]).
    async fn lock_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, PaymentMessage>,
    ) -> Result<(), HandlerError> {
        let checkouts: Vec<uuid::Uuid> = batch.iter().map(|i| i.message.checkout()).collect();
        store::lock_all(tx.conn(), &checkouts).await?;
        Ok(())
    }

    /// In order: consecutive checkouts to authorize together
    /// ([`PaymentHandler::requested_together`]), consecutive orders to capture together
    /// ([`PaymentHandler::ordered_together`]), and every other message in its place,
    /// each recording what must happen to its checkout's money under that payment's
    /// lock; the provider worker does the rest. The payments a batch decides on are
    /// read with one statement, unless it only asks for new ones.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, PaymentMessage>,
    ) -> Result<(), HandlerError> {
        let decides_on_payments = batch
            .iter()
            .any(|i| !matches!(i.message, PaymentMessage::OrderRequested(_)));
        let mut locked = if decides_on_payments {
            let checkouts: Vec<uuid::Uuid> = batch.iter().map(|i| i.message.checkout()).collect();
            store::Locked::read(tx.conn(), &checkouts).await?
        } else {
            store::Locked::default()
        };
        let locked = &mut locked;
        for run in batch.runs_of(|m| match m {
            PaymentMessage::OrderRequested(request) => Some(request),
            _ => None,
        }) {
            match run {
                Run::Picked(run, requests) => {
                    self.requested_together(tx, &run, &requests, locked).await?
                }
                Run::Rest(rest) => {
                    for run in rest.runs_of(|m| match m {
                        PaymentMessage::OrderCreated(created) => Some(created),
                        _ => None,
                    }) {
                        match run {
                            Run::Picked(run, createds) => {
                                self.ordered_together(tx, &run, &createds, locked).await?
                            }
                            Run::Rest(rest) => self.one_by_one(tx, &rest, locked).await?,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl PaymentHandler {
    /// Hands the step just recorded (and claimed) to the worker once `tx` commits.
    fn hand_over(&self, tx: &mut Tx, step: store::Record) {
        let work = self.work.clone();
        tx.after_commit(move || work.hand_over(step));
    }

    /// The messages that are neither requests nor orders (rare: given-up checkouts,
    /// short stock, cancellations), each in its place.
    async fn one_by_one(
        &self,
        tx: &mut Tx,
        rest: &Batch<'_, PaymentMessage>,
        locked: &mut store::Locked,
    ) -> Result<(), HandlerError> {
        for item in rest.iter() {
            item.act_for(tx);
            let cause = item.event.envelope.event_id.to_string();
            let span = item.span();
            match item.message {
                PaymentMessage::OrderRequested(_) | PaymentMessage::OrderCreated(_) => {
                    unreachable!("`runs_of` picks every request and every order")
                }
                PaymentMessage::StockRejected(e) => {
                    let gone = GivenUp {
                        checkout_id: e.checkout(),
                        cart_id: e.cart_id,
                        customer_id: e.customer_id,
                        items: &[],
                        why: "stock short",
                    };
                    self.given_up(tx, gone, &cause, locked)
                        .instrument(span)
                        .await?
                }
                PaymentMessage::CheckoutExpired(e) => {
                    let gone = GivenUp::expired(e);
                    self.given_up(tx, gone, &cause, locked)
                        .instrument(span)
                        .await?
                }
                PaymentMessage::OrderCancelled(e) => {
                    self.cancelled(tx, e, &cause, locked)
                        .instrument(span)
                        .await?
                }
            }
        }
        Ok(())
    }

    /// Customers check out: authorize each total, once per checkout, while inventory
    /// reserves. The run's new payments are recorded (and their steps claimed) with one
    /// statement; a checkout recorded before, or twice in the run, is announced again
    /// (the cart re-sent its request, so someone waits).
    async fn requested_together(
        &self,
        tx: &mut Tx,
        run: &Batch<'_, PaymentMessage>,
        requests: &[&OrderRequested],
        locked: &mut store::Locked,
    ) -> Result<(), HandlerError> {
        let causes: Vec<String> = run
            .iter()
            .map(|i| i.event.envelope.event_id.to_string())
            .collect();
        let mut news = Vec::with_capacity(requests.len());
        for (k, request) in requests.iter().enumerate() {
            // In the message's span: the worker's call continues its trace.
            news.push(
                run.get(k)
                    .in_span(|| self.new_payment(request, &causes[k]))?,
            );
        }
        let mut recorded = store::insert_all(tx.conn(), &news).await?;
        for (k, (request, new)) in requests.iter().zip(&news).enumerate() {
            let item = run.get(k);
            item.act_for(tx);
            match recorded.remove(&new.checkout_id) {
                Some(step) => {
                    self.recorded(tx, request, new, step)
                        .instrument(item.span())
                        .await?
                }
                None => {
                    self.requested_again(tx, request, locked)
                        .instrument(item.span())
                        .await?
                }
            }
        }
        Ok(())
    }

    /// The payment a request asks for: one to authorize, or one declined at once when
    /// its method is missing (an event from before payment) or malformed; a card
    /// number is never stored. A request with nothing to pay is poison.
    fn new_payment<'a>(
        &'a self,
        request: &'a OrderRequested,
        cause: &'a str,
    ) -> Result<NewPayment<'a>, HandlerError> {
        let checkout_id = request.checkout();
        let amount_cents = total_cents(&request.items);
        let lines_valid = request
            .items
            .iter()
            .all(|i| i.quantity > 0 && i.unit_price_cents >= 0);
        if amount_cents <= 0 || request.items.is_empty() || !lines_valid {
            return Err(HandlerError::Poison(format!(
                "order-requested for checkout {checkout_id} with nothing to pay"
            )));
        }
        let method = request.payment_method.as_deref();
        let refused = match method {
            None => Some(PAYMENT_METHOD_MISSING),
            Some(token) => domain::check_payment_method(token)
                .err()
                .map(|_| "payment_method_invalid"),
        };
        Ok(NewPayment {
            checkout_id,
            cart_id: request.cart_id,
            customer_id: request.customer_id,
            amount_cents,
            currency: &self.currency,
            payment_method: method.filter(|_| refused.is_none()),
            status: if refused.is_some() {
                PaymentStatus::Declined
            } else {
                PaymentStatus::Authorizing
            },
            decline_code: refused,
            expires_at: request.expires_at,
            items: &request.items,
            shipping_address: request.shipping_address.as_ref(),
            caused_by: cause,
            traceparent: cartflow_messaging::trace_context::current(),
            claim: match refused {
                None => self.work.lease(),
                Some(_) => std::time::Duration::ZERO,
            },
        })
    }

    /// A new payment recorded: its decline announced, or its authorization handed to
    /// the worker.
    async fn recorded(
        &self,
        tx: &mut Tx,
        request: &OrderRequested,
        new: &NewPayment<'_>,
        step: store::Record,
    ) -> Result<(), HandlerError> {
        let checkout_id = new.checkout_id;
        if let Some(reason) = new.decline_code {
            tracing::info!(%checkout_id, reason, "payment declined without asking the provider");
            tx.publish(&PaymentDeclined {
                checkout_id,
                cart_id: request.cart_id,
                customer_id: request.customer_id,
                reason: reason.into(),
                decline_code: None,
                items: request.items.clone(),
            })
            .await?;
        } else {
            tracing::info!(%checkout_id, amount_cents = new.amount_cents, "authorization requested");
            self.hand_over(tx, step);
        }
        Ok(())
    }

    /// A request for a checkout that has its payment: what was decided is announced
    /// again.
    async fn requested_again(
        &self,
        tx: &mut Tx,
        request: &OrderRequested,
        locked: &mut store::Locked,
    ) -> Result<(), HandlerError> {
        let checkout_id = request.checkout();
        let record = locked
            .take(tx.conn(), checkout_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("payment of checkout {checkout_id} vanished"))?;
        match record.status {
            PaymentStatus::Authorized => {
                tx.publish(&authorized(&record)).await?;
                tracing::info!(%checkout_id, "repeated request: authorization announced again");
            }
            PaymentStatus::Declined => {
                tx.publish(&declined(&record)).await?;
                tracing::info!(%checkout_id, "repeated request: decline announced again");
            }
            status => {
                tracing::info!(%checkout_id, %status, "repeated request; nothing to add");
            }
        }
        Ok(())
    }

    /// Orders exist: capture what each holds, once. The run's captures are requested
    /// with one statement; an order announced twice in the run is captured once.
    async fn ordered_together(
        &self,
        tx: &mut Tx,
        run: &Batch<'_, PaymentMessage>,
        createds: &[&OrderCreated],
        locked: &mut store::Locked,
    ) -> Result<(), HandlerError> {
        let causes: Vec<String> = run
            .iter()
            .map(|i| i.event.envelope.event_id.to_string())
            .collect();
        let mut steps = Vec::with_capacity(createds.len());
        // The run's writes come after it, so a second look at a payment would find it
        // still authorized: a checkout whose capture this run requests is not looked at
        // again.
        let mut capturing = HashSet::new();
        let mut requested_for = Vec::with_capacity(createds.len());
        for (k, created) in createds.iter().enumerate() {
            let item = run.get(k);
            let checkout_id = created.checkout();
            let order_id = created.order_id;
            if capturing.contains(&checkout_id) {
                item.in_span(|| tracing::info!(%checkout_id, "order announced again in one batch; captured once"));
                continue;
            }
            let record = locked
                .take(tx.conn(), checkout_id)
                .instrument(item.span())
                .await?;
            let Some(record) = record else {
                item.in_span(|| tracing::warn!(%checkout_id, %order_id, "order without a payment (placed before payment existed); nothing to capture"));
                continue;
            };
            if record.status != PaymentStatus::Authorized {
                item.in_span(|| tracing::info!(%checkout_id, status = %record.status, "order announced again; payment already past authorization"));
                continue;
            }
            capturing.insert(checkout_id);
            requested_for.push((k, checkout_id, order_id));
            steps.push(store::Step {
                id: record.id,
                to: PaymentStatus::Capturing,
                order_id: Some(order_id),
                caused_by: &causes[k],
                // In the message's span: the worker's call continues its trace.
                traceparent: item.in_span(cartflow_messaging::trace_context::current),
                claim: self.work.lease(),
            });
        }
        let requested = store::request_all(tx.conn(), &steps).await?;
        if requested.len() != steps.len() {
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "{} of {} locked payments vanished before their capture",
                steps.len() - requested.len(),
                steps.len()
            )));
        }
        for step in requested {
            self.hand_over(tx, step);
        }
        for (k, checkout_id, order_id) in requested_for {
            run.get(k)
                .in_span(|| tracing::info!(%checkout_id, %order_id, "capture requested"));
        }
        Ok(())
    }

    /// The checkout ends without its order (given up, or its stock short): whatever is
    /// held for it is released, and if payment has not heard of it yet, nothing will be
    /// authorized for it.
    async fn given_up(
        &self,
        tx: &mut Tx,
        gone: GivenUp<'_>,
        cause: &str,
        locked: &mut store::Locked,
    ) -> Result<(), HandlerError> {
        let GivenUp {
            checkout_id, why, ..
        } = gone;
        let mut record = locked.take(tx.conn(), checkout_id).await?;
        if record.is_none() {
            let new = NewPayment {
                checkout_id,
                cart_id: gone.cart_id,
                customer_id: gone.customer_id,
                amount_cents: 0,
                currency: &self.currency,
                payment_method: None,
                status: PaymentStatus::Abandoned,
                decline_code: None,
                expires_at: None,
                items: gone.items,
                shipping_address: None,
                caused_by: cause,
                traceparent: None,
                claim: std::time::Duration::ZERO,
            };
            let abandoned = store::insert(tx.conn(), &new).await?;
            if abandoned.is_some() {
                tracing::info!(%checkout_id, why, "checkout ended before payment heard of it: it will authorize nothing");
                return Ok(());
            }
            // The request's payment went in while this looked (its insert had not
            // committed, so the lock found nothing and the insert waited for it): decide
            // on that payment, or its authorization would go unvoided.
            record = locked.take(tx.conn(), checkout_id).await?;
        }
        match domain::on_given_up(record.as_ref().map(|r| r.status)) {
            OnGivenUp::Abandon => {
                return Err(HandlerError::Transient(anyhow::anyhow!(
                    "payment of checkout {checkout_id} neither found nor recorded"
                )));
            }
            OnGivenUp::VoidOnArrival => {
                let id = record.expect("a status was read").id;
                store::flag(tx.conn(), id, true, false).await?;
                tracing::info!(%checkout_id, why, "checkout ended while its authorization is out: voided on arrival");
            }
            OnGivenUp::Void => {
                let id = record.expect("a status was read").id;
                let traceparent = cartflow_messaging::trace_context::current();
                let step = store::request(
                    tx.conn(),
                    store::Step {
                        id,
                        to: PaymentStatus::Voiding,
                        order_id: None,
                        caused_by: cause,
                        traceparent,
                        claim: self.work.lease(),
                    },
                )
                .await?;
                self.hand_over(tx, step);
                tracing::info!(%checkout_id, why, "checkout ended without its order: its authorization is voided");
            }
            OnGivenUp::Nothing => {}
        }
        Ok(())
    }

    /// The order was cancelled: the money goes back, once.
    async fn cancelled(
        &self,
        tx: &mut Tx,
        cancelled: &OrderCancelled,
        cause: &str,
        locked: &mut store::Locked,
    ) -> Result<(), HandlerError> {
        let checkout_id = cancelled.checkout();
        let Some(record) = locked.take(tx.conn(), checkout_id).await? else {
            tracing::warn!(%checkout_id, order_id = %cancelled.order_id, "cancelled order without a payment; nothing to return");
            return Ok(());
        };
        let traceparent = cartflow_messaging::trace_context::current();
        match domain::on_cancelled(record.status, record.refund_requested) {
            OnCancelled::Refund => {
                let step = store::request(
                    tx.conn(),
                    store::Step {
                        id: record.id,
                        to: PaymentStatus::Refunding,
                        order_id: None,
                        caused_by: cause,
                        traceparent,
                        claim: self.work.lease(),
                    },
                )
                .await?;
                self.hand_over(tx, step);
                tracing::info!(%checkout_id, order_id = %cancelled.order_id, "refund requested");
            }
            OnCancelled::Void => {
                // The cancellation can come before `order.created` (another
                // subscription): the payment still names its order.
                let step = store::request(
                    tx.conn(),
                    store::Step {
                        id: record.id,
                        to: PaymentStatus::Voiding,
                        order_id: Some(cancelled.order_id),
                        caused_by: cause,
                        traceparent,
                        claim: self.work.lease(),
                    },
                )
                .await?;
                self.hand_over(tx, step);
                tracing::info!(%checkout_id, order_id = %cancelled.order_id, "void requested");
            }
            OnCancelled::RefundOnCapture => {
                store::flag(tx.conn(), record.id, false, true).await?;
                tracing::info!(%checkout_id, "order cancelled while its capture is out: refunded once captured");
            }
            OnCancelled::Nothing => {
                tracing::info!(%checkout_id, status = %record.status, "cancellation repeated or nothing to return");
            }
        }
        Ok(())
    }
}

/// A checkout that ends without its order, from either event that says so.
struct GivenUp<'a> {
    checkout_id: uuid::Uuid,
    cart_id: uuid::Uuid,
    customer_id: uuid::Uuid,
    items: &'a [LineItem],
    /// For the log.
    why: &'static str,
}

impl<'a> GivenUp<'a> {
    fn expired(e: &'a CheckoutExpired) -> Self {
        GivenUp {
            checkout_id: e.checkout_id,
            cart_id: e.cart_id,
            customer_id: e.customer_id,
            items: &e.items,
            why: "given up",
        }
    }
}

/// The announcement of a held authorization: what order makes the order from.
pub fn authorized(record: &store::Record) -> PaymentAuthorized {
    PaymentAuthorized {
        checkout_id: record.checkout_id,
        cart_id: record.cart_id,
        customer_id: record.customer_id,
        payment_id: record.id,
        amount_cents: record.amount_cents,
        expires_at: record.expires_at,
        items: record.items.clone(),
        shipping_address: record.shipping_address.clone(),
        card: record.card.clone(),
    }
}

/// The announcement of a decline: inventory releases, the cart unlocks.
pub fn declined(record: &store::Record) -> PaymentDeclined {
    let missing = record.payment_method.is_none();
    PaymentDeclined {
        checkout_id: record.checkout_id,
        cart_id: record.cart_id,
        customer_id: record.customer_id,
        reason: match (&record.decline_code, missing) {
            (Some(code), true) => code.clone(),
            _ => "card_declined".into(),
        },
        decline_code: record.decline_code.clone().filter(|_| !missing),
        items: record.items.clone(),
    }
}

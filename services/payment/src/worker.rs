//! The provider worker: asks the provider for what the consumed events recorded
//! (authorize, capture, void, refund) and records each answer with the event it
//! causes, in one transaction for the answers that arrived together.
//!
//! Why a worker and not a call inside the consumer's transaction: a provider call takes
//! milliseconds to seconds (a slow card, a time-out and its retries), and a batch of
//! messages waits for its slowest member; here each call runs on its own, concurrently,
//! while the consumers go on. Every call carries the idempotency key of its step, so a
//! call repeated after a time-out, a crash or by a second instance's worker gets the
//! provider's first answer and never charges twice; the answer is recorded only if the
//! payment is still in the status the call was made for. A step is claimed for as long
//! as its call can take, so another instance's worker does not make the same call
//! meanwhile.

use crate::domain::{self, PaymentStatus};
use crate::handlers::{authorized, declined};
use crate::provider::{Authorization, Authorize, Provider, ProviderError};
use crate::store::{self, Record, Settled};
use cartflow_events::{PaymentCaptured, PaymentRefunded};
use cartflow_messaging::{Cause, Outbox, trace_context};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

/// Added to the longest a call can take for a claim's lease: time to record the answer.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Provider calls out at once.
    pub concurrency: usize,
    /// How often to look for due retries (new work wakes the worker at once).
    pub poll: Duration,
}

pub struct Worker {
    pub outbox: Outbox,
    pub provider: Provider,
    pub work: Arc<Notify>,
    pub settings: WorkerSettings,
}

/// What the provider said to one step.
enum Outcome {
    Authorization(Authorization),
    Captured(i64),
    Voided,
    Refunded(i64),
}

/// A step's call, answered.
struct Answered {
    record: Record,
    outcome: Result<Outcome, ProviderError>,
    span: tracing::Span,
}

impl Worker {
    pub async fn run(self, shutdown: CancellationToken) {
        // Which payment each call task is for: a task that panics is known by its id.
        let mut in_hand: HashMap<tokio::task::Id, Uuid> = HashMap::new();
        let mut calls: JoinSet<Answered> = JoinSet::new();
        // A claimed step is nobody else's until its answer is recorded or this runs out.
        let lease = self.provider.longest_call() + LEASE_MARGIN;
        loop {
            let room = self.settings.concurrency.saturating_sub(in_hand.len());
            if room > 0 && !shutdown.is_cancelled() {
                let skip: Vec<Uuid> = in_hand.values().copied().collect();
                match store::claim_due(self.outbox.pool(), &skip, room as i64, lease).await {
                    Ok(due) => {
                        for record in due {
                            let id = record.id;
                            let task = calls.spawn(call(self.provider.clone(), record));
                            in_hand.insert(task.id(), id);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading due payments failed; trying again")
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled(), if calls.is_empty() => break,
                _ = self.work.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
                Some(first) = calls.join_next_with_id(), if !calls.is_empty() => {
                    // Every answer that is in by now is recorded with this one.
                    let mut done = vec![first];
                    while let Some(more) = calls.try_join_next_with_id() {
                        done.push(more);
                    }
                    let mut answered = Vec::new();
                    for call in done {
                        match call {
                            Ok((task, answer)) => {
                                in_hand.remove(&task);
                                answered.push(answer);
                            }
                            // Its claim runs out and the step is asked again (same key).
                            Err(e) => {
                                let payment = in_hand.remove(&e.id());
                                tracing::error!(payment_id = ?payment, error = %e, lease_ms = lease.as_millis() as u64,
                                    "a provider call failed to finish; asked again when its claim runs out");
                            }
                        }
                    }
                    if let Err(e) = self.record(answered).await {
                        tracing::warn!(error = %e, lease_ms = lease.as_millis() as u64,
                            "recording provider answers failed; the steps are asked again (same keys) when their claims run out");
                    }
                }
            }
        }
    }

    /// Records the answers and the events they cause, in one transaction.
    async fn record(&self, answered: Vec<Answered>) -> anyhow::Result<()> {
        let mut tx = self.outbox.begin().await?;
        let mut more_work = false;
        for answer in answered {
            let span = answer.span.clone();
            more_work |= apply(&mut tx, answer).instrument(span).await?;
        }
        tx.commit().await?;
        if more_work {
            self.work.notify_one();
        }
        Ok(())
    }
}

/// Makes the provider call for the record's pending step, in a span of the checkout's
/// trace (continued from the event that asked for it).
async fn call(provider: Provider, record: Record) -> Answered {
    let step = record.status.as_str();
    let span = tracing::info_span!("payment.step", step, checkout_id = %record.checkout_id, payment_id = %record.id);
    trace_context::set_parent(&span, record.traceparent.as_deref());
    let outcome = step_call(&provider, &record).instrument(span.clone()).await;
    Answered {
        record,
        outcome,
        span,
    }
}

async fn step_call(provider: &Provider, record: &Record) -> Result<Outcome, ProviderError> {
    let key = |step| domain::idempotency_key(step, record.checkout_id);
    let intent = record.intent_id.as_deref();
    match (record.status, intent) {
        (PaymentStatus::Authorizing, _) => {
            let method = record.payment_method.as_deref().unwrap_or_default();
            provider
                .authorize(&Authorize {
                    idempotency_key: key("authorize"),
                    amount_cents: record.amount_cents,
                    currency: record.currency.clone(),
                    payment_method: method.to_string(),
                    checkout_id: record.checkout_id.to_string(),
                })
                .await
                .map(Outcome::Authorization)
        }
        (PaymentStatus::Capturing, Some(intent)) => provider
            .capture(intent, &key("capture"))
            .await
            .map(|i| Outcome::Captured(i.amount_received_cents)),
        (PaymentStatus::Voiding, Some(intent)) => match provider.cancel(intent, &key("void")).await
        {
            Ok(_) => Ok(Outcome::Voided),
            // Refused: perhaps nothing is held any more (canceled by hand, or the
            // authorization lapsed at the provider). Asked, the intent says.
            Err(ProviderError::Rejected { .. })
                if provider
                    .retrieve(intent)
                    .await
                    .is_ok_and(|i| i.status == crate::provider::IntentStatus::Canceled) =>
            {
                Ok(Outcome::Voided)
            }
            Err(e) => Err(e),
        },
        // Nothing was ever held.
        (PaymentStatus::Voiding, None) => Ok(Outcome::Voided),
        (PaymentStatus::Refunding, Some(intent)) => {
            let refund = provider
                .refund(intent, record.captured_cents, &key("refund"))
                .await?;
            // A card refund is `succeeded` or, for a while, `pending`; a failed or
            // canceled one returned nothing.
            match refund.status.as_deref() {
                Some("failed" | "canceled") => Err(ProviderError::Rejected {
                    status: 200,
                    code: refund.status.clone(),
                    message: format!("refund {} {}", refund.id, refund.status.unwrap_or_default()),
                }),
                _ => Ok(Outcome::Refunded(refund.amount_cents)),
            }
        }
        (status, _) => Err(ProviderError::Rejected {
            status: 0,
            code: Some("no_intent".into()),
            message: format!("payment in {status} has no provider intent to act on"),
        }),
    }
}

/// Refusals of the payment method itself: Stripe's for one it does not know (`No such
/// PaymentMethod`), and the client's for one not shaped like a token (never sent).
const PAYMENT_METHOD_REFUSED: [&str; 2] = ["resource_missing", "invalid_payment_method"];

/// Whether the provider refused the payment method itself (an answer: a decline).
fn refuses_the_payment_method(error: &ProviderError) -> bool {
    matches!(error, ProviderError::Rejected { code: Some(code), .. }
        if PAYMENT_METHOD_REFUSED.contains(&code.as_str()))
}

fn count(name: &'static str, labels: &[(&'static str, String)]) {
    metrics::counter!(name, labels).increment(1);
}

/// Records one answer; true if it left more provider work (a void or a refund).
async fn apply(tx: &mut cartflow_messaging::Tx, answer: Answered) -> anyhow::Result<bool> {
    let Answered {
        record, outcome, ..
    } = answer;
    let from = record.status;
    let checkout_id = record.checkout_id;
    // The payment as it is now, locked: a handler may have flagged it while the call was
    // out (the checkout given up, the order cancelled), and that flag decides what the
    // answer leads to. If it moved on meanwhile (another instance's worker), nothing to do.
    let Some(mut record) = store::lock(tx.conn(), checkout_id).await? else {
        return Ok(false);
    };
    if record.status != from {
        return Ok(false);
    }
    let cause = Cause {
        correlation_id: record.cart_id.to_string(),
        causation_id: record
            .caused_by
            .clone()
            .unwrap_or_else(|| checkout_id.to_string()),
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // Unanswered for as long as its key lives: asking again could hold money twice.
        Err(error)
            if from == PaymentStatus::Authorizing
                && !refuses_the_payment_method(&error)
                && !domain::may_ask_again(record.created_at, chrono::Utc::now()) =>
        {
            let error = format!(
                "no answer to the authorization within its idempotency key's lifetime ({} h); \
                 not asked again, as a new call could hold the money twice; reconcile: {error}",
                domain::AUTHORIZATION_ASK_WINDOW.as_secs() / 3600
            );
            tracing::error!(%checkout_id, %error, "authorization given up for an operator");
            count(
                "cartflow_payment_failures_total",
                &[("step", from.as_str().into())],
            );
            store::fail(tx.conn(), record.id, from, &error).await?;
            return Ok(false);
        }
        Err(ProviderError::Transient(error)) => {
            let delay = domain::retry_delay(record.attempts + 1);
            tracing::warn!(%checkout_id, step = %from, %error, retry_in_ms = delay.as_millis() as u64, "provider call failed; trying again later");
            store::retry_later(tx.conn(), record.id, from, delay, &error).await?;
            return Ok(false);
        }
        // A payment method the provider does not know is the customer's to fix: a decline.
        // Any other refusal of an authorization (a rotated key, a parameter, an answer
        // that did not read) is ours: tried again later, with the same key, so that what
        // the provider may have done is found out rather than announced as a decline.
        Err(ProviderError::Rejected { code, message, .. })
            if from == PaymentStatus::Authorizing
                && code
                    .as_deref()
                    .is_some_and(|c| PAYMENT_METHOD_REFUSED.contains(&c)) =>
        {
            let code = code.unwrap_or_default();
            tracing::info!(%checkout_id, %code, %message, "provider refused the payment method");
            Outcome::Authorization(Authorization::Declined {
                intent_id: None,
                code: code.clone(),
                decline_code: Some(code),
                message,
            })
        }
        Err(ProviderError::Rejected {
            status,
            code,
            message,
        }) if from == PaymentStatus::Authorizing => {
            let delay = domain::retry_delay(record.attempts + 1);
            let error = format!("{status} {}: {message}", code.unwrap_or_default());
            tracing::error!(%checkout_id, %error, retry_in_ms = delay.as_millis() as u64, "provider refused the authorization; trying again later");
            count(
                "cartflow_payment_failures_total",
                &[("step", from.as_str().into())],
            );
            store::retry_later(tx.conn(), record.id, from, delay, &error).await?;
            return Ok(false);
        }
        // The capture was refused while the order was being cancelled: nothing was
        // taken, so release the hold rather than wait for an operator.
        Err(ProviderError::Rejected { code, message, .. })
            if from == PaymentStatus::Capturing && record.refund_requested =>
        {
            tracing::warn!(%checkout_id, code = code.as_deref().unwrap_or_default(), %message, "capture refused for a cancelled order: voiding the hold");
            let traceparent = record.traceparent.clone();
            let caused_by = record.caused_by.clone().unwrap_or_default();
            store::request(
                tx.conn(),
                record.id,
                PaymentStatus::Voiding,
                None,
                &caused_by,
                traceparent,
            )
            .await?;
            return Ok(true);
        }
        Err(ProviderError::Rejected { code, message, .. }) => {
            let code = code.unwrap_or_default();
            tracing::error!(%checkout_id, step = %from, %code, %message, "provider refused the step; the payment waits for an operator");
            count(
                "cartflow_payment_failures_total",
                &[("step", from.as_str().into())],
            );
            store::fail(tx.conn(), record.id, from, &format!("{code}: {message}")).await?;
            return Ok(false);
        }
    };
    match outcome {
        Outcome::Authorization(Authorization::Approved {
            intent_id,
            brand,
            last4,
            ..
        }) => {
            let (status, announce) =
                domain::after_authorization(domain::Answer::Approved, record.void_requested);
            let card = brand
                .zip(last4)
                .map(|(brand, last4)| cartflow_events::CardSummary { brand, last4 });
            let settled = Settled {
                status: Some(status),
                intent_id: Some(&intent_id),
                card: card.as_ref(),
                ..Settled::default()
            };
            if !store::settle(tx.conn(), record.id, from, &settled).await? {
                return Ok(false);
            }
            count(
                "cartflow_payment_authorizations_total",
                &[("outcome", "approved".into())],
            );
            record.card = card.clone();
            record.intent_id = Some(intent_id);
            if announce {
                tx.publish_caused_by(&cause, &authorized(&record)).await?;
                tracing::info!(%checkout_id, amount_cents = record.amount_cents, "payment authorized");
            } else {
                tracing::info!(%checkout_id, "authorized after the checkout was given up: voiding it");
            }
            Ok(!announce)
        }
        Outcome::Authorization(Authorization::Declined {
            intent_id,
            decline_code,
            code,
            ..
        }) => {
            let (status, announce) =
                domain::after_authorization(domain::Answer::Declined, record.void_requested);
            let reported = decline_code.unwrap_or(code);
            let settled = Settled {
                status: Some(status),
                intent_id: intent_id.as_deref(),
                decline_code: Some(&reported),
                ..Settled::default()
            };
            if !store::settle(tx.conn(), record.id, from, &settled).await? {
                return Ok(false);
            }
            count(
                "cartflow_payment_authorizations_total",
                &[("outcome", "declined".into())],
            );
            count(
                "cartflow_payment_declines_total",
                &[("code", reported.clone())],
            );
            record.decline_code = Some(reported.clone());
            if announce {
                tx.publish_caused_by(&cause, &declined(&record)).await?;
            }
            tracing::info!(%checkout_id, decline_code = %reported, "payment declined");
            Ok(false)
        }
        Outcome::Captured(amount) => {
            let next = if record.refund_requested {
                PaymentStatus::Refunding
            } else {
                PaymentStatus::Captured
            };
            let settled = Settled {
                status: Some(next),
                captured_cents: Some(amount),
                ..Settled::default()
            };
            if !store::settle(tx.conn(), record.id, from, &settled).await? {
                return Ok(false);
            }
            count("cartflow_payment_captures_total", &[]);
            let order_id = record.order_id.unwrap_or_default();
            tx.publish_caused_by(
                &cause,
                &PaymentCaptured {
                    payment_id: record.id,
                    order_id,
                    checkout_id,
                    customer_id: record.customer_id,
                    amount_cents: amount,
                    card: record.card.clone(),
                },
            )
            .await?;
            tracing::info!(%checkout_id, %order_id, amount_cents = amount, "payment captured");
            Ok(record.refund_requested)
        }
        Outcome::Voided => {
            let settled = Settled {
                status: Some(PaymentStatus::Voided),
                ..Settled::default()
            };
            if store::settle(tx.conn(), record.id, from, &settled).await? {
                count("cartflow_payment_voids_total", &[]);
                tracing::info!(%checkout_id, "authorization voided: nothing held");
            }
            Ok(false)
        }
        Outcome::Refunded(amount) => {
            let settled = Settled {
                status: Some(PaymentStatus::Refunded),
                refunded_cents: Some(amount),
                ..Settled::default()
            };
            if !store::settle(tx.conn(), record.id, from, &settled).await? {
                return Ok(false);
            }
            count("cartflow_payment_refunds_total", &[]);
            let order_id = record.order_id.unwrap_or_default();
            tx.publish_caused_by(
                &cause,
                &PaymentRefunded {
                    payment_id: record.id,
                    order_id,
                    checkout_id,
                    customer_id: record.customer_id,
                    amount_cents: amount,
                },
            )
            .await?;
            tracing::info!(%checkout_id, %order_id, amount_cents = amount, "payment refunded");
            Ok(false)
        }
    }
}

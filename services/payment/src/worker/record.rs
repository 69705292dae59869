//! Recording a provider's answers: each with the event it causes, under the payment's
//! lock, only if the payment is still in the status the call was made for; failures
//! retried later, given up for an operator, or settled on their own.

use super::{Answered, Outcome};
use crate::domain::{self, PaymentStatus};
use crate::handlers::{authorized, declined};
use crate::provider::{Authorization, ProviderError};
use crate::store::{self, Settled};
use cartflow_events::{PaymentCaptured, PaymentRefunded};
use cartflow_messaging::Cause;

/// Refusals of the payment method itself: Stripe's for one it does not know (`No such
/// PaymentMethod`), and the client's for one not shaped like a token (never sent).
const PAYMENT_METHOD_REFUSED: [&str; 2] = ["resource_missing", "invalid_payment_method"];

/// Whether the provider refused the payment method itself (an answer: a decline).
fn refuses_the_payment_method(error: &ProviderError) -> bool {
    matches!(error, ProviderError::Rejected { code: Some(code), .. }
        if PAYMENT_METHOD_REFUSED.contains(&code.as_str()))
}

/// What a batch of answers writes at its end ([`store::settle_all`]) and counts once it
/// has committed: a batch that rolls back is recorded again answer by answer, and would
/// otherwise count its answers twice.
#[derive(Default)]
pub(super) struct Recording {
    pub(super) settles: Vec<Settled>,
    counts: Vec<(&'static str, Vec<(&'static str, String)>)>,
}

impl Recording {
    fn count(&mut self, name: &'static str, labels: &[(&'static str, String)]) {
        self.counts.push((name, labels.to_vec()));
    }

    /// Counts what the committed batch recorded.
    pub(super) fn committed(self) {
        for (name, labels) in self.counts {
            metrics::counter!(name, labels.as_slice()).increment(1);
        }
    }
}

/// Records one answer; true if it left more provider work (a void or a refund). What
/// the answer settles is added to `recording`, for the caller to write with the others'
/// ([`store::settle_all`]) in the same transaction: the payment is locked and still in
/// the status the call was made for, so nothing can move it meanwhile.
pub(super) async fn apply(
    tx: &mut cartflow_messaging::Tx,
    answer: Answered,
    locked: &mut store::Locked,
    recording: &mut Recording,
) -> anyhow::Result<bool> {
    let Answered {
        record, outcome, ..
    } = answer;
    let from = record.status;
    let checkout_id = record.checkout_id;
    // The payment as it is now, locked: a handler may have flagged it while the call was
    // out (the checkout given up, the order cancelled), and that flag decides what the
    // answer leads to. If it moved on meanwhile (another instance's worker), nothing to do.
    let Some(mut record) = locked.take(tx.conn(), checkout_id).await? else {
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
            recording.count(
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
            recording.count(
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
            // Due at once: the worker's next look claims it.
            store::request(
                tx.conn(),
                store::Step {
                    id: record.id,
                    to: PaymentStatus::Voiding,
                    order_id: None,
                    caused_by: &caused_by,
                    traceparent,
                    claim: std::time::Duration::ZERO,
                },
            )
            .await?;
            return Ok(true);
        }
        Err(ProviderError::Rejected { code, message, .. }) => {
            let code = code.unwrap_or_default();
            tracing::error!(%checkout_id, step = %from, %code, %message, "provider refused the step; the payment waits for an operator");
            recording.count(
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
            recording.settles.push(Settled {
                intent_id: Some(intent_id.clone()),
                card: card.clone(),
                ..Settled::to(record.id, from, status)
            });
            recording.count(
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
            recording.settles.push(Settled {
                intent_id,
                decline_code: Some(reported.clone()),
                ..Settled::to(record.id, from, status)
            });
            recording.count(
                "cartflow_payment_authorizations_total",
                &[("outcome", "declined".into())],
            );
            recording.count(
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
            recording.settles.push(Settled {
                captured_cents: Some(amount),
                ..Settled::to(record.id, from, next)
            });
            recording.count("cartflow_payment_captures_total", &[]);
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
            recording
                .settles
                .push(Settled::to(record.id, from, PaymentStatus::Voided));
            recording.count("cartflow_payment_voids_total", &[]);
            tracing::info!(%checkout_id, "authorization voided: nothing held");
            Ok(false)
        }
        Outcome::Refunded(amount) => {
            recording.settles.push(Settled {
                refunded_cents: Some(amount),
                ..Settled::to(record.id, from, PaymentStatus::Refunded)
            });
            recording.count("cartflow_payment_refunds_total", &[]);
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

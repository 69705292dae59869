//! A message that failed: what its outcome is, how it is logged, and its row in the
//! failure log (`message_failures`), written outside the rolled-back transaction.

use super::{Applied, Consumer, Delivery, HandlerError, Incoming, Outcome};
use crate::trace_context;
use cartflow_events::Envelope;

/// A failed attempt, for the failure log.
pub(super) struct Failure {
    pub(super) envelope: Option<Envelope>,
    pub(super) message_id: String,
    /// Can never succeed (as opposed to: may succeed on a retry).
    pub(super) rejected: bool,
    pub(super) error: String,
}

impl Consumer {
    /// Logs a failed attempt in `message_failures`, in a transaction of its own (the
    /// handler's was rolled back). Best effort: with the database down it only logs.
    pub(super) async fn record_failure(&self, failure: Failure) {
        let envelope = failure.envelope.as_ref();
        let key = envelope.map_or_else(|| failure.message_id.clone(), |e| e.event_id.to_string());
        let recorded = sqlx::query(
            "INSERT INTO message_failures
                 (failure_key, service, event_id, event_type, correlation_id, message_id, kind, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (failure_key, service) DO UPDATE
             SET attempts = message_failures.attempts + 1, kind = EXCLUDED.kind,
                 last_error = EXCLUDED.last_error, message_id = EXCLUDED.message_id, last_failed_at = now()",
        )
        .bind(key)
        .bind(self.outbox.service().name())
        .bind(envelope.map(|e| e.event_id))
        .bind(envelope.map(|e| e.event_type.clone()))
        .bind(envelope.map(|e| e.correlation_id.clone()))
        .bind(&failure.message_id)
        .bind(if failure.rejected { "rejected" } else { "failing" })
        .bind(failure.error.chars().take(2000).collect::<String>())
        .execute(self.outbox.pool())
        .await;
        if let Err(err) = recorded {
            tracing::warn!(error = %err, "could not record the failure");
        }
    }
}

/// Logs what applying one message came to; returns its outcome and, if it failed,
/// the failure to record.
pub(super) fn judge(
    span: &tracing::Span,
    incoming: &Incoming,
    delivery: &Delivery<'_>,
    result: Applied,
    batch: usize,
) -> (Outcome, Option<Failure>) {
    let _in_span = span.enter();
    let attempt = delivery.attempt;
    let (outcome, error) = match result {
        Ok(Outcome::Duplicate) => {
            span.record("outcome", "duplicate");
            tracing::info!("duplicate delivery skipped");
            return (Outcome::Duplicate, None);
        }
        Ok(outcome) => {
            span.record("outcome", "processed");
            tracing::debug!(batch, "processed");
            return (outcome, None);
        }
        Err(HandlerError::Poison(reason)) => {
            tracing::warn!(?attempt, %reason, "unprocessable; leaving the message to the dead-letter policy");
            (Outcome::Rejected, reason)
        }
        Err(HandlerError::Transient(err)) => {
            let error = format!("{err:#}");
            tracing::warn!(?attempt, %error, "processing failed; will be redelivered");
            (Outcome::Failed, error)
        }
    };
    span.record(
        "outcome",
        if outcome == Outcome::Rejected {
            "rejected"
        } else {
            "failed"
        },
    );
    if trace_context::enabled() {
        span.record("otel.status_code", "ERROR");
    }
    let failure = Failure {
        envelope: Some(incoming.envelope.clone()),
        message_id: delivery.message_id.to_string(),
        rejected: outcome == Outcome::Rejected,
        error,
    };
    (outcome, Some(failure))
}

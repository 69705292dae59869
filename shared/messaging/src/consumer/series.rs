//! The consumer's Prometheus series (README, "Metrics").

use super::{Delivery, Outcome};
use cartflow_events::Service;

/// The consumer's series, registered once (labels `service` and `subscription`, the
/// unprefixed name), so a message costs a few atomic adds. Created after the kit has
/// installed the recorder; without one they record nothing.
pub(super) struct ConsumerMetrics {
    pub(super) processed: metrics::Counter,
    pub(super) duplicate: metrics::Counter,
    pub(super) rejected: metrics::Counter,
    pub(super) failed: metrics::Counter,
    pub(super) dead_lettered: metrics::Counter,
    pub(super) batch_seconds: metrics::Histogram,
    /// Batches applied again message by message after the one-go try failed.
    pub(super) batch_fallbacks: metrics::Counter,
    pub(super) event_age_seconds: metrics::Histogram,
}

impl ConsumerMetrics {
    pub(super) fn new(service: Service, subscription: &str) -> Self {
        let labels = [
            ("service", service.name().to_string()),
            ("subscription", subscription.to_string()),
        ];
        let messages = |outcome: &'static str| {
            let mut with_outcome = labels.to_vec();
            with_outcome.push(("outcome", outcome.to_string()));
            metrics::counter!("cartflow_messages_total", &with_outcome)
        };
        ConsumerMetrics {
            processed: messages("processed"),
            duplicate: messages("duplicate"),
            rejected: messages("rejected"),
            failed: messages("failed"),
            dead_lettered: metrics::counter!("cartflow_messages_dead_lettered_total", &labels),
            batch_seconds: metrics::histogram!("cartflow_consume_batch_duration_seconds", &labels),
            batch_fallbacks: metrics::counter!("cartflow_consume_batch_fallbacks_total", &labels),
            event_age_seconds: metrics::histogram!("cartflow_event_age_seconds", &labels),
        }
    }

    /// Counts a message's outcome, and a failure that was the last attempt before
    /// Pub/Sub dead-letters the message (as far as this service can know: the attempt
    /// number comes with the delivery).
    pub(super) fn outcome(&self, delivery: &Delivery<'_>, outcome: Outcome) {
        match outcome {
            Outcome::Processed => &self.processed,
            Outcome::Duplicate => &self.duplicate,
            Outcome::Rejected => &self.rejected,
            Outcome::Failed => &self.failed,
        }
        .increment(1);
        let last_attempt = delivery
            .attempt
            .is_some_and(|a| a >= cartflow_events::topology::MAX_DELIVERY_ATTEMPTS);
        if !outcome.is_done() && last_attempt {
            self.dead_lettered.increment(1);
        }
    }
}

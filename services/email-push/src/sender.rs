//! Sends queued emails over SMTP, outside any database transaction, and reports each
//! outcome (`delivery.result`) through the outbox. A failure is retried with backoff up
//! to the attempt budget; sends run concurrently, so one slow server or address does not
//! hold up the others.

use crate::live::Live;
use crate::smtp::{self, SmtpSettings};
use crate::store::{self, Due};
use cartflow_events::{Channel, DeliveryResult};
use cartflow_messaging::{Cause, Outbox};
use futures::future::join_all;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Emails claimed (and so sent concurrently) per pass.
const BATCH: i64 = 16;
/// How often to look for retries that have come due.
const SWEEP: Duration = Duration::from_millis(250);

pub struct Sender {
    outbox: Outbox,
    settings: SmtpSettings,
    live: Live,
}

impl Sender {
    pub fn new(outbox: Outbox, settings: SmtpSettings, live: Live) -> Self {
        Sender {
            outbox,
            settings,
            live,
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let transport = match self.settings.transport() {
            Ok(t) => t,
            Err(err) => {
                tracing::error!(error = %err, "cannot build the SMTP transport; emails stay queued");
                return;
            }
        };
        // Longer than one send can take, so a claimed email is not sent twice at once.
        let lease = self.settings.timeout * 2 + Duration::from_secs(5);
        while !shutdown.is_cancelled() {
            let due = match store::claim_due(self.outbox.pool(), BATCH, lease).await {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot claim emails");
                    Vec::new()
                }
            };
            let busy = due.len() as i64 == BATCH;
            join_all(due.into_iter().map(|email| self.attempt(&transport, email))).await;
            if !busy {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = self.live.email_queued() => {}
                    _ = tokio::time::sleep(SWEEP) => {}
                }
            }
        }
    }

    async fn attempt(&self, transport: &AsyncSmtpTransport<Tokio1Executor>, email: Due) {
        let outcome = smtp::send(
            transport,
            &self.settings.from,
            &email.recipient,
            &email.subject,
            &email.body,
        )
        .await;
        if let Err(err) = self.record(&email, outcome).await {
            // The lease runs out and the email is tried again; the notification's own
            // idempotency keeps the result single.
            tracing::warn!(email_id = %email.id, error = format!("{err:#}"), "cannot record email outcome");
        }
    }

    async fn record(
        &self,
        email: &Due,
        outcome: Result<(), smtp::SendError>,
    ) -> anyhow::Result<()> {
        let mut tx = self.outbox.begin().await?;
        let result = match outcome {
            Ok(()) => {
                let attempts = store::mark_sent(tx.conn(), email.id).await?;
                tracing::info!(email_id = %email.id, attempts, "email sent");
                Some(DeliveryResult {
                    notification_id: email.notification_id,
                    channel: Channel::Email,
                    delivered: true,
                    attempts,
                    error: None,
                })
            }
            Err(err) => {
                let exhausted = err.permanent || email.attempts + 1 >= self.settings.max_attempts;
                let retry_in = (!exhausted).then(|| self.settings.backoff(email.attempts + 1));
                let attempts =
                    store::mark_attempt_failed(tx.conn(), email.id, &err.message, retry_in).await?;
                tracing::warn!(email_id = %email.id, attempts, error = %err.message, ?retry_in, "email not sent");
                exhausted.then_some(DeliveryResult {
                    notification_id: email.notification_id,
                    channel: Channel::Email,
                    delivered: false,
                    attempts,
                    error: Some(err.message),
                })
            }
        };
        if let Some(result) = result {
            let cause = Cause {
                correlation_id: email.correlation_id.clone(),
                causation_id: email.request_event_id.to_string(),
            };
            tx.publish(&cause, &result).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

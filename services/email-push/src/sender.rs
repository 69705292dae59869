//! Sends queued emails over SMTP, outside any database transaction, and reports each
//! outcome (`delivery.result`) through the outbox. A failure is retried with backoff up
//! to the attempt budget; sends run concurrently, so one slow server or address does not
//! hold up the others.

use crate::live::Live;
use crate::smtp::{self, SmtpSettings};
use crate::store::{self, Due};
use cartflow_events::{Channel, DeliveryResult};
use cartflow_messaging::{Cause, Outbox};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Emails being sent at once.
const IN_FLIGHT: usize = 32;
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

    /// Keeps up to [`IN_FLIGHT`] sends going: claims more as sends finish rather than
    /// waiting for a whole batch, so one slow send does not hold back the queue.
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
        let this = Arc::new(self);
        let mut sending = JoinSet::new();
        // True while the last claim filled every free slot, so more may be due: then a
        // finished send is a reason to claim again. Otherwise only a new email (woken
        // by NOTIFY) or the sweep is; claiming after every send would cost a commit each.
        let mut backlog = false;
        while !shutdown.is_cancelled() {
            while sending.try_join_next().is_some() {}
            let free = IN_FLIGHT - sending.len();
            let due = if free == 0 {
                Vec::new()
            } else {
                store::claim_due(this.outbox.pool(), free as i64, lease)
                    .await
                    .unwrap_or_else(|err| {
                        tracing::warn!(error = %err, "cannot claim emails");
                        Vec::new()
                    })
            };
            if free > 0 {
                backlog = due.len() == free;
            }
            for email in due {
                let (this, transport) = (this.clone(), transport.clone());
                sending.spawn(async move { this.attempt(&transport, email).await });
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = this.live.email_queued() => {}
                _ = tokio::time::sleep(SWEEP) => {}
                Some(_) = sending.join_next(), if backlog && !sending.is_empty() => {}
            }
        }
        while sending.join_next().await.is_some() {}
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

//! Sends queued emails over SMTP, outside any database transaction, and reports each
//! outcome (`delivery.result`) through the outbox, with the result of the push its
//! request delivered beside it (see `handlers`), so a message costs one result. A
//! failure is retried with backoff up to the attempt budget; sends run concurrently, so
//! one slow server or address does not hold up the others.
//!
//! A new email reaches the sender in memory, already leased to it by the transaction
//! that queued it ([`EmailHandoff`]): no claim transaction. The table is read only for
//! retries that came due and for emails whose sender died (their lease ran out).
//! Outcomes are recorded together: every send that finished since the last record goes
//! into one transaction. An outcome that cannot be recorded (the database is down) is
//! held in memory and recorded when the database is back; meanwhile the sender claims
//! nothing, so an email whose lease ran out during the outage is not sent again.
//!
//! In publish-before-response mode (push delivery on a CPU throttled between requests)
//! the pushed request that queued an email also makes the first attempt and records it
//! before it is answered ([`Mailer::send_now`]); the sender then only retries.

use crate::domain::{AfterFailure, push_delivered};
use crate::smtp::{self, SendError, SmtpSettings};
use crate::store::{self, Due};
use anyhow::Context;
use cartflow_events::{Channel, DeliveryOutcome, DeliveryResult};
use cartflow_messaging::{Cause, Outbox, trace_context};
use futures::StreamExt;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

/// How often to look for retries that have come due.
const SWEEP: Duration = Duration::from_millis(250);

/// How long an email stays leased to the sender that holds it: longer than one send can
/// take, so it is never sent twice at once.
pub fn lease(settings: &SmtpSettings) -> Duration {
    settings.timeout * 2 + Duration::from_secs(5)
}

/// Hands committed emails to this process's sender.
#[derive(Clone)]
pub struct EmailHandoff {
    queue: mpsc::UnboundedSender<Due>,
    /// The lease the queuing transaction gives the email.
    pub lease: Duration,
}

/// The sender's end of an [`EmailHandoff`].
pub type HandedOff = mpsc::UnboundedReceiver<Due>;

impl EmailHandoff {
    pub fn new(lease: Duration) -> (Self, HandedOff) {
        let (queue, handed_off) = mpsc::unbounded_channel();
        (EmailHandoff { queue, lease }, handed_off)
    }

    /// Gives the sender a committed email. If the sender has stopped, the email stays
    /// queued in the table and is sent once its lease runs out.
    pub fn send(&self, email: Due) {
        let _ = self.queue.send(email);
    }
}

/// Sends one email and records outcomes: what the background sender and the inline
/// path of publish-before-response share.
pub struct Mailer {
    outbox: Outbox,
    settings: SmtpSettings,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Outcomes whose recording failed, kept for the next try.
    unrecorded: Mutex<Vec<Finished>>,
}

type Finished = (Due, Result<(), SendError>);

impl Mailer {
    pub fn new(outbox: Outbox, settings: SmtpSettings) -> Result<Self, String> {
        let transport = settings.transport().map_err(|err| err.to_string())?;
        Ok(Mailer {
            outbox,
            settings,
            transport,
            unrecorded: Mutex::new(Vec::new()),
        })
    }

    /// One attempt at each of `emails`, sent concurrently (`SMTP_CONNECTIONS` at most for
    /// this call; each pushed batch makes its own), then recorded together in one transaction (with the
    /// `delivery.result`s that are final).
    pub async fn send_now(&self, emails: Vec<Due>) {
        let finished = futures::stream::iter(emails.into_iter().map(|email| self.attempt(email)))
            .buffer_unordered(self.settings.connections)
            .collect()
            .await;
        self.record(finished).await;
    }

    async fn attempt(&self, mut email: Due) -> Finished {
        let span = tracing::info_span!("smtp send",
            email_id = %email.id,
            correlation_id = %email.correlation_id,
            attempt = email.attempts + 1,
            outcome = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
            otel.status_code = tracing::field::Empty);
        if trace_context::enabled() {
            span.record("otel.kind", "client");
            trace_context::set_parent(&span, email.trace_parent.as_deref());
        }
        let outcome = smtp::send(
            &self.transport,
            &self.settings.from,
            &email.recipient,
            &email.subject,
            &email.body,
        )
        .instrument(span.clone())
        .await;
        span.record("outcome", if outcome.is_ok() { "sent" } else { "failed" });
        if outcome.is_err() && trace_context::enabled() {
            span.record("otel.status_code", "ERROR");
        }
        // The outcome's `delivery.result`, recorded later in a batch, follows the send.
        email.trace_parent = trace_context::traceparent_of(&span);
        (email, outcome)
    }

    /// Records finished sends, and any held from a failed record, with their
    /// `delivery.result`s in one transaction. If that fails they are held for the next
    /// call; returns whether nothing is left unrecorded.
    async fn record(&self, finished: Vec<Finished>) -> bool {
        let mut all = std::mem::take(&mut *self.held());
        all.extend(finished);
        if all.is_empty() {
            return true;
        }
        match self.try_record(&all).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(
                    emails = all.len(),
                    error = format!("{err:#}"),
                    "cannot record email outcomes; holding them to record later"
                );
                self.held().extend(all);
                false
            }
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Vec<Finished>> {
        self.unrecorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_unrecorded(&self) -> bool {
        !self.held().is_empty()
    }

    async fn try_record(&self, finished: &[Finished]) -> anyhow::Result<()> {
        let mut tx = self.outbox.begin().await?;
        // The sent ones (nearly all) in one statement; failures one by one.
        let sent: Vec<Uuid> = finished
            .iter()
            .filter(|(_, outcome)| outcome.is_ok())
            .map(|(email, _)| email.id)
            .collect();
        let sent_recorded = store::mark_sent(tx.conn(), &sent).await?;
        let mut results = Vec::with_capacity(finished.len());
        for (email, outcome) in finished {
            let (recorded, email_outcome) = match outcome {
                Ok(()) => {
                    let recorded = *sent_recorded
                        .get(&email.id)
                        .with_context(|| format!("email {} vanished while sending", email.id))?;
                    let attempts = recorded.attempts;
                    tracing::info!(email_id = %email.id, attempts, "email sent");
                    results.push("sent");
                    let outcome = DeliveryOutcome {
                        notification_id: email.notification_id,
                        channel: Channel::Email,
                        delivered: true,
                        attempts,
                        error: None,
                    };
                    (recorded, Some(outcome))
                }
                Err(err) => {
                    let next = self
                        .settings
                        .retry
                        .after_failure(email.attempts, err.permanent);
                    let recorded =
                        store::mark_attempt_failed(tx.conn(), email.id, &err.message, next).await?;
                    let attempts = recorded.attempts;
                    tracing::warn!(email_id = %email.id, attempts, error = %err.message, retry_in = ?next.retry_in(), "email not sent");
                    let given_up = next == AfterFailure::GiveUp;
                    results.push(if given_up { "failed" } else { "retrying" });
                    let outcome = given_up.then(|| DeliveryOutcome {
                        notification_id: email.notification_id,
                        channel: Channel::Email,
                        delivered: false,
                        attempts,
                        error: Some(err.message.clone()),
                    });
                    (recorded, outcome)
                }
            };
            // The push delivered beside it is reported with the first attempt, whatever
            // its outcome: with the email's own result when that is final.
            let push_outcome = recorded.reports_push.map(push_delivered);
            let outcomes: Vec<DeliveryOutcome> =
                email_outcome.into_iter().chain(push_outcome).collect();
            let result = (!outcomes.is_empty()).then_some(DeliveryResult { outcomes });
            if let Some(result) = result {
                let cause = Cause {
                    correlation_id: email.correlation_id.clone(),
                    causation_id: email.request_event_id.to_string(),
                };
                let publish = tx.publish_caused_by(&cause, &result);
                if trace_context::enabled() {
                    // Written under a span of the email's own trace, so the result
                    // continues it although one transaction records many emails.
                    let span = tracing::info_span!("record result", email_id = %email.id);
                    trace_context::set_parent(&span, email.trace_parent.as_deref());
                    publish.instrument(span).await?;
                } else {
                    publish.await?;
                }
            }
        }
        tx.commit().await?;
        // `cartflow_emails_total{result}`: sent, retrying (will be tried again), failed
        // (given up); counted once recorded.
        for result in results {
            let labels = [("service", "email-push"), ("result", result)];
            metrics::counter!("cartflow_emails_total", &labels).increment(1);
        }
        Ok(())
    }
}

pub struct Sender {
    mailer: Arc<Mailer>,
    handed_off: HandedOff,
}

impl Sender {
    pub fn new(mailer: Arc<Mailer>, handed_off: HandedOff) -> Self {
        Sender { mailer, handed_off }
    }

    /// Keeps up to `SMTP_CONNECTIONS` sends going, refilling a slot as soon as a send ends,
    /// so one slow send does not hold back the queue.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mailer = self.mailer.clone();
        let lease = lease(&mailer.settings);
        let mut sending: JoinSet<Finished> = JoinSet::new();
        let mut waiting: VecDeque<Due> = VecDeque::new();
        let mut finished: Vec<Finished> = Vec::new();
        let mut next_claim = Instant::now();
        let mut next_record = Instant::now();
        let attempt = |email: Due| {
            let mailer = mailer.clone();
            async move { mailer.attempt(email).await }
        };
        loop {
            while let Some(Ok(done)) = sending.try_join_next() {
                finished.push(done);
            }
            let record_due = mailer.has_unrecorded() && Instant::now() >= next_record;
            if (!finished.is_empty() || record_due)
                && !mailer.record(std::mem::take(&mut finished)).await
            {
                next_record = Instant::now() + SWEEP;
            }
            // Claim nothing while outcomes are unrecorded: their leases may have run
            // out, and a claim would send them again.
            let unrecorded = mailer.has_unrecorded();
            if shutdown.is_cancelled() {
                break;
            }
            while sending.len() < mailer.settings.connections {
                let Some(email) = waiting.pop_front() else {
                    break;
                };
                sending.spawn(attempt(email));
            }
            let free = mailer.settings.connections - sending.len();
            if free > 0 && !unrecorded && Instant::now() >= next_claim {
                let due = store::claim_due(mailer.outbox.pool(), free as i64, lease)
                    .await
                    .unwrap_or_else(|err| {
                        tracing::warn!(error = %err, "cannot claim emails");
                        Vec::new()
                    });
                // A full claim means more may be due: claim again as soon as a slot frees.
                next_claim = if due.len() == free {
                    Instant::now()
                } else {
                    Instant::now() + SWEEP
                };
                for email in due {
                    sending.spawn(attempt(email));
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                Some(email) = self.handed_off.recv() => {
                    waiting.push_back(email);
                    while let Ok(email) = self.handed_off.try_recv() {
                        waiting.push_back(email);
                    }
                }
                Some(Ok(done)) = sending.join_next(), if !sending.is_empty() => finished.push(done),
                _ = tokio::time::sleep_until(next_claim), if free > 0 && !unrecorded => {}
                _ = tokio::time::sleep_until(next_record), if unrecorded => {}
            }
        }
        // Emails handed over but not started keep their lease and are sent after it.
        while let Some(done) = sending.join_next().await {
            finished.extend(done.ok());
        }
        mailer.record(finished).await;
    }
}

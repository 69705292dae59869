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

mod record;

use crate::domain::{self, PaymentStatus};
use crate::provider::{Authorization, Authorize, Provider, ProviderError};
use crate::store::{self, Record};
use cartflow_messaging::{Outbox, trace_context};
use record::{Recording, apply};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
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

/// What the handlers give the worker. A step a handler records is claimed in its own
/// transaction (for [`Work::lease`]) and handed over in memory once that commits: the
/// worker calls at once, with no claim statement (a commit) of its own and no wait for
/// its poll. If the process dies first, the claim runs out and any instance's worker
/// takes the step up (same idempotency key), as for a call that was out.
#[derive(Clone)]
pub struct Work {
    handed: Arc<Mutex<VecDeque<Record>>>,
    /// Rung by a hand-over: take what was handed (no statement).
    handed_over: Arc<Notify>,
    /// Rung when steps may be due: look for them (a claim statement).
    due: Arc<Notify>,
    lease: Duration,
}

impl Work {
    /// For steps whose call takes at most `longest_call`.
    pub fn new(longest_call: Duration) -> Work {
        Work {
            handed: Arc::default(),
            handed_over: Arc::new(Notify::new()),
            due: Arc::new(Notify::new()),
            lease: longest_call + LEASE_MARGIN,
        }
    }

    /// How long a claimed step is nobody else's: the longest a call can take, and time
    /// to record its answer.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Gives the worker a step claimed for it (call once its transaction committed).
    pub fn hand_over(&self, record: Record) {
        self.handed.lock().unwrap().push_back(record);
        self.handed_over.notify_one();
    }

    /// Tells the worker to look for due steps now.
    pub fn wake(&self) {
        self.due.notify_one();
    }

    fn take(&self, at_most: usize) -> Vec<Record> {
        let mut handed = self.handed.lock().unwrap();
        let n = at_most.min(handed.len());
        handed.drain(..n).collect()
    }
}

pub struct Worker {
    pub outbox: Outbox,
    pub provider: Provider,
    pub work: Work,
    pub settings: WorkerSettings,
}

/// What the provider said to one step.
#[derive(Clone)]
pub(super) enum Outcome {
    Authorization(Authorization),
    Captured(i64),
    Voided,
    Refunded(i64),
}

/// A step's call, answered.
#[derive(Clone)]
pub(super) struct Answered {
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
        let lease = self.work.lease();
        // Due steps are looked for at start (what an earlier run left), when woken for
        // them, every poll, and while the last look filled every free slot; a hand-over
        // alone needs no look.
        let mut look_for_due = true;
        let mut next_look = tokio::time::Instant::now() + self.settings.poll;
        loop {
            let mut room = self.settings.concurrency.saturating_sub(in_hand.len());
            if room > 0 && !shutdown.is_cancelled() {
                // Steps the handlers claimed for this worker first, then any due.
                for record in self.work.take(room) {
                    let id = record.id;
                    let task = calls.spawn(call(self.provider.clone(), record));
                    in_hand.insert(task.id(), id);
                    room -= 1;
                }
            }
            if look_for_due && room > 0 && !shutdown.is_cancelled() {
                look_for_due = false;
                next_look = tokio::time::Instant::now() + self.settings.poll;
                let skip: Vec<Uuid> = in_hand.values().copied().collect();
                match store::claim_due(self.outbox.pool(), &skip, room as i64, lease).await {
                    Ok(due) => {
                        look_for_due = due.len() == room;
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
                _ = self.work.handed_over.notified() => {}
                _ = self.work.due.notified() => look_for_due = true,
                _ = tokio::time::sleep_until(next_look) => {
                    look_for_due = true;
                    next_look = tokio::time::Instant::now() + self.settings.poll;
                }
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
        self.release_unstarted().await;
    }

    /// Stopping with steps handed over but not started: their claims are released, so
    /// another instance asks now rather than when the claims run out (`lease`). The
    /// runtime stops the worker only after the consumers, so nothing is handed over
    /// after this has run.
    async fn release_unstarted(&self) {
        let unstarted: Vec<Uuid> = self.work.take(usize::MAX).iter().map(|r| r.id).collect();
        if unstarted.is_empty() {
            return;
        }
        match store::release(self.outbox.pool(), &unstarted).await {
            Ok(released) => tracing::info!(
                released,
                "stopping: unstarted provider steps left to the next worker"
            ),
            Err(e) => tracing::warn!(error = %e, steps = unstarted.len(),
                "stopping: could not release unstarted provider steps; they are asked when their claims run out"),
        }
    }

    /// Records the answers and the events they cause, in one transaction, their
    /// payments locked and read with one statement, in checkout order (as the consumers
    /// lock theirs). If that fails,
    /// each answer is recorded in a transaction of its own, so one bad answer does not
    /// leave the others to wait for their claims to run out.
    async fn record(&self, mut answered: Vec<Answered>) -> anyhow::Result<()> {
        answered.sort_by_key(|a| a.record.checkout_id);
        // A payment has one call out at a time; were two answers for one payment here,
        // the second must see what the first recorded, so each goes alone.
        let one_per_payment = answered
            .windows(2)
            .all(|w| w[0].record.checkout_id != w[1].record.checkout_id);
        if one_per_payment {
            let together = self.record_together(&answered).await;
            let Err(e) = together else {
                return Ok(());
            };
            if answered.len() == 1 {
                return Err(e);
            }
            tracing::warn!(error = %e, answers = answered.len(), "recording answers together failed; recording each alone");
        }
        let mut last = Ok(());
        for answer in answered {
            if let Err(e) = self.record_together(std::slice::from_ref(&answer)).await {
                last = Err(e);
            }
        }
        last
    }

    async fn record_together(&self, answered: &[Answered]) -> anyhow::Result<()> {
        let mut tx = self.outbox.begin().await?;
        let checkouts: Vec<Uuid> = answered.iter().map(|a| a.record.checkout_id).collect();
        let mut locked = store::Locked::read(tx.conn(), &checkouts).await?;
        let mut recording = Recording::default();
        let mut more_work = false;
        for answer in answered {
            let span = answer.span.clone();
            more_work |= apply(&mut tx, answer.clone(), &mut locked, &mut recording)
                .instrument(span)
                .await?;
        }
        let settles = &recording.settles;
        let recorded = store::settle_all(tx.conn(), settles).await?;
        // Each payment was locked and seen in the status its call was made for.
        anyhow::ensure!(
            recorded == settles.len() as u64,
            "{} of {} answers found their payment moved on under its lock",
            settles.len() as u64 - recorded,
            settles.len()
        );
        tx.commit().await?;
        recording.committed();
        if more_work {
            self.work.wake();
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

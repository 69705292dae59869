//! Applying a batch: one transaction, one inbox statement for its messages, what the
//! handler applies together, then the handler per message; savepoints only when a
//! message failed.

use super::{Applied, Consumer, HandlerError, Incoming, Outcome, Together};
use crate::outbox::Tx;
use crate::trace_context;
use cartflow_events::Service;
use std::collections::HashSet;
use tracing::Instrument;
use uuid::Uuid;

/// One try at applying a batch.
enum Attempt {
    /// Committed; one result per message.
    Committed(Vec<Applied>),
    /// Rolled back whole because this message failed (a try without savepoints).
    Failed(Applied),
}

impl Consumer {
    /// Applies one event in a transaction of its own (a batch of one).
    pub async fn apply(&self, incoming: &Incoming) -> Applied {
        let mut applied = self.apply_batch(&[incoming]).await?;
        applied.pop().expect("one result per message")
    }

    /// Applies `batch` in one transaction: the handler's batch locks, the inbox records,
    /// what the handler applies together, then the handler per message (in event-id
    /// order); one commit. Returns one result per message, in the order given; `Err` if
    /// the transaction itself failed, in which case nothing of the batch was committed.
    ///
    /// The batch is first applied without savepoints, the common case. If a message
    /// fails, that transaction is rolled back and the batch applied again with a
    /// savepoint per message, so the failing one is rolled back alone and the rest
    /// commit. Savepoints on the hot path would cost a round trip per message and, worse,
    /// turn every update of a row the batch had locked into a MultiXact (the lock is the
    /// transaction's, the update a subtransaction's), which every later reader of that
    /// row must resolve: it was PostgreSQL's top symbol in the inventory profile.
    pub async fn apply_batch(&self, batch: &[&Incoming]) -> Result<Vec<Applied>, HandlerError> {
        let service = self.outbox.service();
        let spans: Vec<_> = batch.iter().map(|m| consume_span(service, m)).collect();
        self.apply_batch_in(batch, &spans).await
    }

    /// [`Consumer::apply_batch`] with each message's span given (one per message).
    pub(super) async fn apply_batch_in(
        &self,
        batch: &[&Incoming],
        spans: &[tracing::Span],
    ) -> Result<Vec<Applied>, HandlerError> {
        match self.try_apply(batch, spans, false).await? {
            Attempt::Committed(applied) => Ok(applied),
            Attempt::Failed(result) if batch.len() == 1 => Ok(vec![result]),
            Attempt::Failed(_) => {
                self.fallbacks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.metrics.batch_fallbacks.increment(1);
                self.apply_with_savepoints(batch, spans).await
            }
        }
    }

    /// The fallback: the batch again, a savepoint per message.
    async fn apply_with_savepoints(
        &self,
        batch: &[&Incoming],
        spans: &[tracing::Span],
    ) -> Result<Vec<Applied>, HandlerError> {
        match self.try_apply(batch, spans, true).await? {
            Attempt::Committed(applied) => Ok(applied),
            Attempt::Failed(_) => unreachable!("with savepoints a failure is rolled back alone"),
        }
    }

    /// One try at a batch. Without savepoints the first failing message ends the try
    /// (dropping the transaction rolls it back); with them, it is rolled back alone.
    async fn try_apply(
        &self,
        batch: &[&Incoming],
        spans: &[tracing::Span],
        savepoints: bool,
    ) -> Result<Attempt, HandlerError> {
        let mut tx = self.outbox.begin().await?;
        self.handler.lock_batch(&mut tx, batch).await?;
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| batch[i].envelope.event_id);
        // Without savepoints the whole batch commits or none of it, so its inbox rows
        // go in with one statement; with them, each message's row must roll back with
        // its handler, so each goes in inside its own savepoint.
        let first_times = match savepoints {
            false => Some(self.record_batch(&mut tx, batch, &order).await?),
            true => None,
        };
        let mut results: Vec<Option<Applied>> = batch.iter().map(|_| None).collect();
        // One handle span per message, whether its handler applies it together or alone.
        let handles: Vec<tracing::Span> = spans.iter().map(handle_span).collect();
        if let Some(first_times) = &first_times {
            let fresh: Vec<usize> = order.iter().copied().filter(|&i| first_times[i]).collect();
            let together = Together::new(
                fresh.iter().map(|&i| batch[i]).collect(),
                fresh.iter().map(|&i| handles[i].clone()).collect(),
            );
            match self.handler.handle_together(&mut tx, &together).await {
                Ok(together) => {
                    for (&i, _) in fresh.iter().zip(together).filter(|(_, done)| *done) {
                        results[i] = Some(Ok(Outcome::Processed));
                    }
                }
                Err(error) => return Ok(Attempt::Failed(Err(error))),
            }
        }
        for i in order {
            let incoming = batch[i];
            if results[i].is_some() {
                continue;
            }
            if savepoints {
                tx.savepoint().await?;
            }
            let handle = handles[i].clone();
            let result = match &first_times {
                Some(first_times) if !first_times[i] => Ok(Outcome::Duplicate),
                Some(_) => self.handle_in(&mut tx, incoming).instrument(handle).await,
                None => self.apply_in(&mut tx, incoming).instrument(handle).await,
            };
            if result.is_err() {
                if !savepoints {
                    return Ok(Attempt::Failed(result));
                }
                tx.rollback_to_savepoint().await?;
            }
            results[i] = Some(result);
        }
        // One commit for the batch, shown in each message's trace; only while traces
        // are exported (spans cost a little even unexported).
        let _commit_spans: Vec<_> = match trace_context::enabled() {
            true => spans
                .iter()
                .map(|s| tracing::info_span!(parent: s, "commit", batch = batch.len()))
                .collect(),
            false => Vec::new(),
        };
        tx.commit().await?;
        Ok(Attempt::Committed(
            results
                .into_iter()
                .map(|r| r.expect("every message applied"))
                .collect(),
        ))
    }

    /// Records the event in the inbox (alone, for the savepoint path) and, the first
    /// time, runs the handler.
    async fn apply_in(&self, tx: &mut Tx, incoming: &Incoming) -> Applied {
        if !self.record_batch(tx, &[incoming], &[0]).await?[0] {
            return Ok(Outcome::Duplicate);
        }
        self.handle_in(tx, incoming).await
    }

    /// Runs the handler for an event recorded in the inbox for the first time.
    async fn handle_in(&self, tx: &mut Tx, incoming: &Incoming) -> Applied {
        tx.set_cause(incoming.cause());
        self.handler.handle(tx, incoming).await?;
        Ok(Outcome::Processed)
    }

    /// Records every event of `batch` in the inbox with one statement, taking the keys
    /// in `order` (event-id order, so that batches holding copies of the same events
    /// take their keys in the same order). Returns, per message, whether this is the
    /// event's first delivery. Copies of one event
    /// within the batch: the first in `order` may be, the others are duplicates; every
    /// copy after the first is counted.
    async fn record_batch(
        &self,
        tx: &mut Tx,
        batch: &[&Incoming],
        order: &[usize],
    ) -> sqlx::Result<Vec<bool>> {
        let mut rows = InboxRows::default();
        let mut first_of_id = vec![true; batch.len()];
        for &i in order {
            let envelope = &batch[i].envelope;
            if rows.ids.last() == Some(&envelope.event_id) {
                *rows.extra_copies.last_mut().expect("a row per id") += 1;
                first_of_id[i] = false;
                continue;
            }
            rows.ids.push(envelope.event_id);
            rows.event_types.push(envelope.event_type.clone());
            rows.correlation_ids.push(envelope.correlation_id.clone());
            rows.extra_copies.push(0);
        }
        // `xmax = 0` is true only for a freshly inserted row; a conflict updates the
        // existing one (counting the copies) and returns false.
        let inserted: Vec<(Uuid, bool)> = sqlx::query_as(
            "INSERT INTO processed_messages
                 (event_id, service, event_type, correlation_id, duplicate_deliveries)
             SELECT id, $2, event_type, correlation_id, extra_copies
             FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY
                  AS m(id, event_type, correlation_id, extra_copies, n)
             ORDER BY n
             ON CONFLICT (event_id, service) DO UPDATE SET duplicate_deliveries =
                 processed_messages.duplicate_deliveries + EXCLUDED.duplicate_deliveries + 1
             RETURNING event_id, (xmax = 0)",
        )
        .bind(rows.ids)
        .bind(self.outbox.service().name())
        .bind(rows.event_types)
        .bind(rows.correlation_ids)
        .bind(rows.extra_copies)
        .fetch_all(tx.conn())
        .await?;
        let fresh: HashSet<Uuid> = inserted
            .into_iter()
            .filter_map(|(id, fresh)| fresh.then_some(id))
            .collect();
        Ok((0..batch.len())
            .map(|i| first_of_id[i] && fresh.contains(&batch[i].envelope.event_id))
            .collect())
    }
}

/// The inbox rows of a batch, one per distinct event, as columns for `UNNEST`.
#[derive(Default)]
struct InboxRows {
    ids: Vec<Uuid>,
    event_types: Vec<String>,
    correlation_ids: Vec<String>,
    /// Copies of the event in the batch after the first.
    extra_copies: Vec<i32>,
}

/// The span a message's handler runs in: a child of its consume span, of its own only
/// while traces are exported (cheap, not free).
fn handle_span(consume: &tracing::Span) -> tracing::Span {
    match trace_context::enabled() {
        true => tracing::info_span!(parent: consume, "handle"),
        false => consume.clone(),
    }
}

/// The span of one consumed message, a child of the producer's publish span when the
/// message carried its context; `message_id` and `outcome` are recorded later.
pub(super) fn consume_span(service: Service, incoming: &Incoming) -> tracing::Span {
    let span = tracing::info_span!("consume", %service,
        event_id = %incoming.envelope.event_id,
        event_type = %incoming.envelope.event_type,
        correlation_id = %incoming.envelope.correlation_id,
        message_id = tracing::field::Empty,
        outcome = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        otel.status_code = tracing::field::Empty);
    if trace_context::enabled() {
        span.record(
            "otel.name",
            format!("{} process", incoming.envelope.event_type),
        );
        span.record("otel.kind", "consumer");
        trace_context::set_parent(&span, incoming.trace_parent.as_deref());
    }
    span
}

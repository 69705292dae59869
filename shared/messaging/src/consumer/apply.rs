//! Applying a batch: each message decoded once, one transaction, one inbox statement
//! for its messages, one call of the handler; savepoints only when that failed.

use super::{Applied, Batch, Consumer, Decoded, HandlerError, Incoming, Outcome};
use crate::outbox::Tx;
use crate::trace_context;
use cartflow_events::Service;
use std::collections::HashSet;
use uuid::Uuid;

/// One try at applying a batch.
enum Attempt {
    /// Committed; one result per message.
    Committed(Vec<Applied>),
    /// Rolled back whole because the handler failed (a try without savepoints).
    Failed(HandlerError),
}

/// A message the handler decoded: its position in the batch given, the event, what
/// the handler made of it, and the span of its consumption.
struct Ready<'a> {
    position: usize,
    incoming: &'a Incoming,
    message: Decoded,
    span: tracing::Span,
}

impl Consumer {
    /// Applies one event in a transaction of its own (a batch of one).
    pub async fn apply(&self, incoming: &Incoming) -> Applied {
        let mut applied = self.apply_batch(&[incoming]).await?;
        applied.pop().expect("one result per message")
    }

    /// Applies `batch` in one transaction: each message decoded by the handler (one it
    /// refuses is rejected alone and joins nothing), the handler's batch locks, the
    /// inbox records, the handler's one call for the first deliveries (in event-id
    /// order); one commit. Returns one result per message, in the order given; `Err`
    /// if the transaction itself failed, in which case nothing of the batch was
    /// committed.
    ///
    /// The batch is first applied without savepoints, the common case. If the handler
    /// fails, that transaction is rolled back and each message applied again as a
    /// batch of one in a savepoint of its own, so the failing one is rolled back alone
    /// and the rest commit. Savepoints on the hot path would cost a round trip per
    /// message and, worse, turn every update of a row the batch had locked into a
    /// MultiXact (the lock is the transaction's, the update a subtransaction's), which
    /// every later reader of that row must resolve: it was PostgreSQL's top symbol in
    /// the inventory profile.
    pub async fn apply_batch(&self, batch: &[&Incoming]) -> Result<Vec<Applied>, HandlerError> {
        let service = self.outbox.service();
        let spans: Vec<_> = batch.iter().map(|m| consume_span(service, m)).collect();
        let (mut results, ready) = self.decode(batch, &spans);
        for (applied, position) in self
            .apply_ready(&ready)
            .await?
            .into_iter()
            .zip(ready.iter().map(|r| r.position))
        {
            results[position] = Some(applied);
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every message decoded or refused"))
            .collect())
    }

    /// [`Consumer::apply_batch`] with each message's span given (one per message); a
    /// failed transaction fails each message it held, and a message refused at
    /// decoding stays refused.
    pub(super) async fn apply_batch_in(
        &self,
        batch: &[&Incoming],
        spans: &[tracing::Span],
    ) -> Vec<Applied> {
        let (mut results, ready) = self.decode(batch, spans);
        match self.apply_ready(&ready).await {
            Ok(applied) => {
                for (applied, r) in applied.into_iter().zip(&ready) {
                    results[r.position] = Some(applied);
                }
            }
            // The transaction broke (database gone, commit failed): nothing of the
            // batch stands, so every message of it is redelivered.
            Err(err) => {
                let error = format!("{err:#}");
                for r in &ready {
                    let err = HandlerError::Transient(anyhow::anyhow!(error.clone()));
                    results[r.position] = Some(Err(err));
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every message decoded or refused"))
            .collect()
    }

    /// Decodes each message, in its span: the refused ones' results, and the rest.
    fn decode<'a>(
        &self,
        batch: &[&'a Incoming],
        spans: &[tracing::Span],
    ) -> (Vec<Option<Applied>>, Vec<Ready<'a>>) {
        let mut results: Vec<Option<Applied>> = batch.iter().map(|_| None).collect();
        let mut ready = Vec::with_capacity(batch.len());
        for (position, (&incoming, span)) in batch.iter().zip(spans).enumerate() {
            match span.in_scope(|| self.handler.decode_any(incoming)) {
                Ok(message) => ready.push(Ready {
                    position,
                    incoming,
                    message,
                    span: span.clone(),
                }),
                Err(refused) => results[position] = Some(Err(refused)),
            }
        }
        (results, ready)
    }

    /// Applies decoded messages: one try without savepoints, then, if the handler
    /// failed on more than one message, the fallback. One result per message.
    async fn apply_ready(&self, ready: &[Ready<'_>]) -> Result<Vec<Applied>, HandlerError> {
        if ready.is_empty() {
            return Ok(Vec::new());
        }
        match self.try_apply(ready, false).await? {
            Attempt::Committed(applied) => Ok(applied),
            Attempt::Failed(error) if ready.len() == 1 => Ok(vec![Err(error)]),
            Attempt::Failed(_) => {
                self.fallbacks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.metrics.batch_fallbacks.increment(1);
                match self.try_apply(ready, true).await? {
                    Attempt::Committed(applied) => Ok(applied),
                    Attempt::Failed(_) => {
                        unreachable!("with savepoints a failure is rolled back alone")
                    }
                }
            }
        }
    }

    /// One try at a batch. Without savepoints the handler gets the batch's first
    /// deliveries in one call, and its failure ends the try (dropping the transaction
    /// rolls it back); with them, each message goes alone, in a savepoint, as a batch
    /// of one.
    async fn try_apply(
        &self,
        ready: &[Ready<'_>],
        savepoints: bool,
    ) -> Result<Attempt, HandlerError> {
        let mut tx = self.outbox.begin().await?;
        let mut order: Vec<usize> = (0..ready.len()).collect();
        order.sort_by_key(|&i| ready[i].incoming.envelope.event_id);
        // One handle span per message: a child of its consume span.
        let handles: Vec<tracing::Span> = ready.iter().map(|r| handle_span(&r.span)).collect();
        let batch_of = |positions: &[usize]| {
            Batch::new(
                positions
                    .iter()
                    .map(|&i| (&ready[i].message, ready[i].incoming, handles[i].clone()))
                    .collect(),
            )
        };
        self.handler.lock_any(&mut tx, &batch_of(&order)).await?;
        let mut results: Vec<Option<Applied>> = ready.iter().map(|_| None).collect();
        if !savepoints {
            // The whole batch commits or none of it: its inbox rows go in with one
            // statement.
            let first_times = self.record_batch(&mut tx, ready, &order).await?;
            let fresh: Vec<usize> = order.iter().copied().filter(|&i| first_times[i]).collect();
            if !fresh.is_empty()
                && let Err(error) = self.handler.handle_any(&mut tx, &batch_of(&fresh)).await
            {
                return Ok(Attempt::Failed(error));
            }
            for (i, first) in first_times.into_iter().enumerate() {
                results[i] = Some(Ok(if first {
                    Outcome::Processed
                } else {
                    Outcome::Duplicate
                }));
            }
        } else {
            // Each message's inbox row rolls back with its handler: one savepoint each.
            for &i in &order {
                tx.savepoint().await?;
                let result = match self.record_batch(&mut tx, ready, &[i]).await?[i] {
                    false => Ok(Outcome::Duplicate),
                    true => self
                        .handler
                        .handle_any(&mut tx, &batch_of(&[i]))
                        .await
                        .map(|()| Outcome::Processed),
                };
                if result.is_err() {
                    tx.rollback_to_savepoint().await?;
                }
                results[i] = Some(result);
            }
        }
        // One commit for the batch, shown in each message's trace; only while traces
        // are exported (spans cost a little even unexported).
        let _commit_spans: Vec<_> = match trace_context::enabled() {
            true => ready
                .iter()
                .map(|r| tracing::info_span!(parent: &r.span, "commit", batch = ready.len()))
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

    /// Records every event of `batch` in the inbox with one statement, taking the keys
    /// in `order` (event-id order, so that batches holding copies of the same events
    /// take their keys in the same order). Returns, per message, whether this is the
    /// event's first delivery. Copies of one event
    /// within the batch: the first in `order` may be, the others are duplicates; every
    /// copy after the first is counted.
    async fn record_batch(
        &self,
        tx: &mut Tx,
        batch: &[Ready<'_>],
        order: &[usize],
    ) -> sqlx::Result<Vec<bool>> {
        let mut rows = InboxRows::default();
        let mut first_of_id = vec![true; batch.len()];
        for &i in order {
            let envelope = &batch[i].incoming.envelope;
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
            .map(|i| first_of_id[i] && fresh.contains(&batch[i].incoming.envelope.event_id))
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

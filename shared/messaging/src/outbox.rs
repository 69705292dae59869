//! The transactional outbox: events are written in the same database transaction as
//! the change that causes them, and published after commit by the relay. A crash
//! between commit and publish loses nothing: the relay's sweep finds the row.
//!
//! Staged events are kept in memory until [`Tx::commit`], which writes them all in one
//! statement just before `COMMIT` and then hands them straight to the relay: the happy
//! path never reads the outbox back. In publish-before-response mode (push delivery on a
//! CPU that is throttled once the response is sent) `commit` also waits for them to be
//! published and marked.

use crate::relay::{OutgoingEvent, RelayCore};
use anyhow::Context;
use cartflow_events::{Envelope, Event, Service};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Notify;
use uuid::Uuid;

/// Which saga an emitted event belongs to and what caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub correlation_id: String,
    pub causation_id: String,
}

impl Cause {
    /// An event caused by a command (an HTTP request) that starts or acts on a saga.
    /// The command has no event id of its own, so the saga id stands for it.
    pub fn command(correlation_id: impl ToString) -> Self {
        let id = correlation_id.to_string();
        Cause {
            causation_id: id.clone(),
            correlation_id: id,
        }
    }

    /// An event caused by a consumed event: same saga, caused by that event.
    pub fn event(envelope: &Envelope) -> Self {
        Cause {
            correlation_id: envelope.correlation_id.clone(),
            causation_id: envelope.event_id.to_string(),
        }
    }
}

/// A service's outbox: opens transactions that can stage events and passes committed
/// events to the relay. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    service: Service,
    pool: PgPool,
    shared: Arc<Shared>,
}

/// What the outbox and its relay share within one process.
#[derive(Default)]
pub(crate) struct Shared {
    /// Committed events not yet taken by the relay.
    pub(crate) committed: Mutex<Vec<OutgoingEvent>>,
    /// Signalled when `committed` gains events.
    pub(crate) handed_off: Notify,
    /// Signalled when rows were re-queued in the table (a replay): sweep now.
    pub(crate) sweep_now: Notify,
    /// Set when the relay publishes before `commit` returns (publish-before-response).
    pub(crate) inline: OnceLock<Arc<RelayCore>>,
}

impl Outbox {
    pub fn new(service: Service, pool: PgPool) -> Self {
        Outbox {
            service,
            pool,
            shared: Arc::default(),
        }
    }

    pub fn service(&self) -> Service {
        self.service
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Whether committing also publishes (publish-before-response): then work that
    /// would otherwise run in the background after a commit should be awaited too.
    pub fn publishes_before_response(&self) -> bool {
        self.shared.inline.get().is_some()
    }

    /// Has the relay look at the table now: rows were re-queued behind its back (an
    /// event-log replay). In publish-before-response mode they are published before
    /// this returns.
    pub async fn requeued(&self) {
        match self.shared.inline.get() {
            Some(relay) => relay.sweep_now_inline().await,
            None => self.shared.sweep_now.notify_one(),
        }
    }

    /// After a change that published nothing (a [`Tx`] with no events, or one statement
    /// without a `Tx`): in publish-before-response mode, publishes what earlier failed
    /// publishes left, so that those events still go out with the service's next
    /// request. Otherwise does nothing.
    pub async fn publish_leftovers(&self) {
        if let Some(relay) = self.shared.inline.get()
            && relay.has_leftovers()
        {
            relay.publish_inline(Vec::new()).await;
        }
    }

    /// A transaction that publishes nothing, or whose events each name their cause
    /// ([`Tx::publish_caused_by`]).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx {
            inner: self.pool.begin().await?,
            outbox: self.clone(),
            staged: Vec::new(),
            after_commit: Vec::new(),
            savepoint: None,
            cause: None,
        })
    }

    /// A transaction acting for `cause` (e.g. a command on a saga,
    /// [`Cause::command`]): every event it publishes carries it. The consumer opens its
    /// transactions itself, with the consumed event as the cause.
    pub async fn begin_for(&self, cause: Cause) -> Result<Tx, sqlx::Error> {
        let mut tx = self.begin().await?;
        tx.cause = Some(cause);
        Ok(tx)
    }
}

/// Work to run once the transaction has committed (never if it rolls back).
enum AfterCommit {
    /// Started at once, e.g. a hand-off to a worker.
    Now(Box<dyn FnOnce() + Send>),
    /// Awaited by `commit`, after the events are published.
    Awaited(futures::future::BoxFuture<'static, ()>),
}

/// A database transaction that can also stage events for publication.
/// Dropping it without [`Tx::commit`] rolls everything back, events included.
pub struct Tx {
    inner: Transaction<'static, Postgres>,
    outbox: Outbox,
    staged: Vec<OutgoingEvent>,
    after_commit: Vec<AfterCommit>,
    /// While a savepoint is open: how much was staged when it was taken.
    savepoint: Option<(usize, usize)>,
    /// What the events published in this transaction are caused by.
    cause: Option<Cause>,
}

impl Tx {
    /// The connection for the business change; use it as `tx.conn()` in sqlx queries.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.inner
    }

    /// The consumer sets the cause to each message before its handler runs.
    pub(crate) fn set_cause(&mut self, cause: Cause) {
        self.cause = Some(cause);
    }

    /// Stages `event` for publication when (and only if) this transaction commits,
    /// caused by what the transaction acts for (the consumed event, or the command it
    /// was begun for). Returns the event id, which stays the same however often it is
    /// published.
    pub async fn publish<E: Event>(&mut self, event: &E) -> anyhow::Result<Uuid> {
        let cause = self.cause.clone().with_context(|| {
            format!(
                "publishing {}: this transaction has no cause (begin it with Outbox::begin_for)",
                E::TOPIC
            )
        })?;
        self.publish_caused_by(&cause, event).await
    }

    /// [`Tx::publish`] with a cause of its own, for a transaction that records the
    /// outcomes of several sagas at once (e.g. email results).
    pub async fn publish_caused_by<E: Event>(
        &mut self,
        cause: &Cause,
        event: &E,
    ) -> anyhow::Result<Uuid> {
        // In Google Cloud each service may publish only its own topics (Terraform's IAM
        // is generated from `Topic::publisher`); fail the same way locally.
        anyhow::ensure!(
            E::TOPIC.publisher() == self.outbox.service,
            "{} may not publish {}: its publisher is {}",
            self.outbox.service,
            E::TOPIC,
            E::TOPIC.publisher()
        );
        let envelope = Envelope {
            event_id: Uuid::new_v4(),
            event_type: E::TOPIC.name().to_string(),
            event_version: E::VERSION,
            correlation_id: cause.correlation_id.clone(),
            causation_id: cause.causation_id.clone(),
            producer: self.outbox.service.name().to_string(),
            occurred_at: chrono::Utc::now(),
        };
        let payload = serde_json::to_value(event).context("serialising event payload")?;
        let mut attributes = envelope.to_attributes();
        // The writing span's context, kept in the row: the relay's publish continues it.
        if let Some(traceparent) = crate::trace_context::current() {
            attributes.insert(crate::trace_context::ATTRIBUTE.to_string(), traceparent);
        }
        self.staged.push(OutgoingEvent {
            event_id: envelope.event_id,
            topic: E::TOPIC.name().to_string(),
            ordering_key: event.ordering_key(),
            attributes,
            payload,
        });
        Ok(envelope.event_id)
    }

    /// Runs `work` after this transaction commits; never if it (or the savepoint that is
    /// open now) rolls back. For handing work to an in-process worker without a second
    /// transaction, e.g. an email to the sender.
    pub fn after_commit(&mut self, work: impl FnOnce() + Send + 'static) {
        self.after_commit.push(AfterCommit::Now(Box::new(work)));
    }

    /// Runs `work` after this transaction commits and its events are published, and
    /// makes `commit` wait for it: for work that must be done before a response goes
    /// out (publish-before-response), e.g. sending the emails a pushed request queued.
    /// Several such works run concurrently.
    pub fn after_commit_awaited(&mut self, work: impl Future<Output = ()> + Send + 'static) {
        self.after_commit.push(AfterCommit::Awaited(Box::pin(work)));
    }

    /// Records `note` on the inbox row of the consumed event `event_id` (recorded by
    /// this transaction): what its handling did, for the saga's timeline. One
    /// statement; for what the published events do not say, not for every message.
    pub(crate) async fn note(&mut self, event_id: Uuid, note: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE processed_messages SET note = $3 WHERE event_id = $1 AND service = $2")
            .bind(event_id)
            .bind(self.outbox.service.name())
            .bind(note)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Opens a savepoint (closing the previous one, keeping what it covered):
    /// [`Tx::rollback_to_savepoint`] undoes everything since, staged events included.
    /// Used by the consumer, one per message of a batch; one round trip each.
    pub(crate) async fn savepoint(&mut self) -> Result<(), sqlx::Error> {
        let sql = if self.savepoint.is_some() {
            "RELEASE SAVEPOINT message; SAVEPOINT message"
        } else {
            "SAVEPOINT message"
        };
        execute_raw(&mut self.inner, sql).await?;
        self.savepoint = Some((self.staged.len(), self.after_commit.len()));
        Ok(())
    }

    /// Undoes what was done since the last savepoint, which stays open.
    pub(crate) async fn rollback_to_savepoint(&mut self) -> Result<(), sqlx::Error> {
        execute_raw(&mut self.inner, "ROLLBACK TO SAVEPOINT message").await?;
        if let Some((staged, after_commit)) = self.savepoint {
            self.staged.truncate(staged);
            self.after_commit.truncate(after_commit);
        }
        Ok(())
    }

    /// Writes the staged events (one statement for all of them), commits the change and
    /// its events, then passes the events to the relay. In publish-before-response mode
    /// it returns once they are published (with any leftovers of earlier failures), or
    /// once publishing failed (the rows then wait for the next such commit or the
    /// relay's sweep; the commit stands either way).
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        write_staged(&mut self.inner, &self.staged).await?;
        self.inner.commit().await?;
        let mut awaited = Vec::new();
        for work in self.after_commit {
            match work {
                AfterCommit::Now(work) => work(),
                AfterCommit::Awaited(work) => awaited.push(work),
            }
        }
        let shared = self.outbox.shared();
        if let Some(relay) = shared.inline.get() {
            // Publish-before-response: also with nothing staged, while earlier commits
            // left events unpublished.
            if self.staged.is_empty() {
                self.outbox.publish_leftovers().await;
            } else {
                relay.publish_inline(self.staged).await;
            }
        } else if !self.staged.is_empty() {
            shared
                .committed
                .lock()
                .expect("outbox hand-off poisoned")
                .append(&mut self.staged);
            shared.handed_off.notify_one();
        }
        // Together: each is its own work (email-push's sends), none waits on another.
        futures::future::join_all(awaited).await;
        Ok(())
    }
}

/// Runs statements without parameters: sqlx sends a bare string over the simple
/// protocol, so several statements take one round trip. (Not `sqlx::raw_sql`: its
/// `execute` makes callers' futures fail the higher-ranked `Send` check of a spawn.)
async fn execute_raw(conn: &mut PgConnection, sql: &'static str) -> sqlx::Result<()> {
    sqlx::Executor::execute(conn, sql).await.map(drop)
}

/// Inserts staged events in one statement, whatever their number.
async fn write_staged(conn: &mut PgConnection, staged: &[OutgoingEvent]) -> sqlx::Result<()> {
    if staged.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = staged.iter().map(|e| e.event_id).collect();
    // Owned values: a query holding borrowed arguments makes the futures of every
    // caller fail the compiler's higher-ranked `Send` check.
    let topics: Vec<String> = staged.iter().map(|e| e.topic.clone()).collect();
    let keys: Vec<String> = staged.iter().map(|e| e.ordering_key.clone()).collect();
    let attributes: Vec<serde_json::Value> = staged
        .iter()
        .map(|e| serde_json::to_value(&e.attributes).expect("string map serialises"))
        .collect();
    let payloads: Vec<serde_json::Value> = staged.iter().map(|e| e.payload.clone()).collect();
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, ordering_key, attributes, payload)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[])",
    )
    .bind(ids)
    .bind(topics)
    .bind(keys)
    .bind(attributes)
    .bind(payloads)
    .execute(conn)
    .await
    .map(drop)
}

//! The transactional outbox: events are written in the same database transaction as
//! the change that causes them, and published after commit by the relay. A crash
//! between commit and publish loses nothing: the relay finds the row on restart.

use anyhow::Context;
use cartflow_events::{Envelope, Event, Service};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::sync::Arc;
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

/// A service's outbox: opens transactions that can stage events and wakes the relay
/// when one commits. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    service: Service,
    pool: PgPool,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(service: Service, pool: PgPool) -> Self {
        Outbox {
            service,
            pool,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn service(&self) -> Service {
        self.service
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Resolves when a transaction that staged events has committed.
    pub(crate) fn woken(&self) -> impl Future<Output = ()> + '_ {
        self.wake.notified()
    }

    /// Has the relay look at the outbox now (it also sweeps every few seconds).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx {
            inner: self.pool.begin().await?,
            outbox: self.clone(),
            staged: 0,
        })
    }
}

/// A database transaction that can also stage events for publication.
/// Dropping it without [`Tx::commit`] rolls everything back, events included.
pub struct Tx {
    inner: Transaction<'static, Postgres>,
    outbox: Outbox,
    staged: usize,
}

impl Tx {
    /// The connection for the business change; use it as `tx.conn()` in sqlx queries.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.inner
    }

    /// Stages `event` for publication when (and only if) this transaction commits.
    /// Returns the event id, which stays the same however often it is published.
    pub async fn publish<E: Event>(&mut self, cause: &Cause, event: &E) -> anyhow::Result<Uuid> {
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
        let attributes = serde_json::to_value(envelope.to_attributes())?;
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, ordering_key, attributes, payload)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(envelope.event_id)
        .bind(E::TOPIC.name())
        .bind(event.ordering_key())
        .bind(attributes)
        .bind(payload)
        .execute(&mut *self.inner)
        .await
        .context("writing event to the outbox")?;
        self.staged += 1;
        Ok(envelope.event_id)
    }

    /// Commits the change and its events, then wakes the relay to publish them.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await?;
        if self.staged > 0 {
            self.outbox.wake();
        }
        Ok(())
    }
}

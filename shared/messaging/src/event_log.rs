//! The event log, for the operator: what a service published (its outbox, whose rows
//! stay after publishing) and which consumed events it failed and has not processed
//! since (`message_failures` without a `processed_messages` row).
//!
//! Replaying a logged event re-queues its outbox row: the producer's relay publishes it
//! again, with the same event id and attributes. Consumers that already had it skip it
//! (their inbox); one that lost it (say, to an emulator restart) or failed it processes
//! it now. So a replay is safe to repeat, and safe to aim wide.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// Which logged events to act on. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_ids: Vec<Uuid>,
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created at or before.
    pub until: Option<DateTime<Utc>>,
}

/// One published (or still to be published) event of a service's outbox.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LoggedEvent {
    /// The outbox row's position: the log's order, and where a page of it ends.
    #[serde(skip)]
    pub seq: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub correlation_id: String,
    pub topic: String,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub publish_attempts: i32,
    pub last_error: Option<String>,
}

/// A consumed event that failed and has not been processed since.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UnresolvedFailure {
    pub event_id: Uuid,
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    pub kind: String,
    pub attempts: i32,
    pub last_error: String,
    pub last_failed_at: DateTime<Utc>,
}

/// Whether `filter` narrows anything down: a replay of a service's whole history must
/// not happen by forgetting a flag.
pub fn selects(filter: &EventFilter) -> bool {
    !filter.event_ids.is_empty()
        || filter.event_type.is_some()
        || filter.correlation_id.is_some()
        || filter.since.is_some()
        || filter.until.is_some()
}

/// The outbox rows matching `filter`, oldest first, after the row `after` (a
/// [`LoggedEvent::seq`]), at most `limit`.
pub async fn published(
    pool: &PgPool,
    filter: &EventFilter,
    after: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<LoggedEvent>> {
    sqlx::query_as(
        "SELECT id AS seq, event_id, attributes->>'event_type' AS event_type,
                attributes->>'correlation_id' AS correlation_id, topic, created_at,
                published_at, publish_attempts, last_error
         FROM outbox
         WHERE (cardinality($1::uuid[]) = 0 OR event_id = ANY($1))
           AND ($2::text IS NULL OR attributes->>'event_type' = $2)
           AND ($3::text IS NULL OR attributes->>'correlation_id' = $3)
           AND ($4::timestamptz IS NULL OR created_at >= $4)
           AND ($5::timestamptz IS NULL OR created_at <= $5)
           AND ($6::bigint IS NULL OR id > $6)
         ORDER BY id LIMIT $7",
    )
    .bind(&filter.event_ids)
    .bind(&filter.event_type)
    .bind(&filter.correlation_id)
    .bind(filter.since)
    .bind(filter.until)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Puts these events back in the relay's queue. Rows not yet published are queued
/// already and left alone. Returns how many were re-queued.
pub async fn requeue(pool: &PgPool, event_ids: &[Uuid]) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET published_at = NULL, last_error = NULL
         WHERE event_id = ANY($1) AND published_at IS NOT NULL",
    )
    .bind(event_ids)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// How many of these events are published now (to follow a replay's progress).
pub async fn count_published(pool: &PgPool, event_ids: &[Uuid]) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_id = ANY($1) AND published_at IS NOT NULL",
    )
    .bind(event_ids)
    .fetch_one(pool)
    .await
}

/// The consumed events this database's service failed and has not processed since,
/// oldest failure first, after `after` (the last one's `(last_failed_at, event_id)`),
/// at most `limit`.
pub async fn unresolved_failures(
    pool: &PgPool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<UnresolvedFailure>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(
        "SELECT f.event_id, f.event_type, f.correlation_id, f.kind, f.attempts, f.last_error,
                f.last_failed_at
         FROM message_failures f
         WHERE f.event_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM processed_messages p
                           WHERE p.event_id = f.event_id AND p.service = f.service)
           AND ($1::timestamptz IS NULL OR (f.last_failed_at, f.event_id) > ($1, $2))
         ORDER BY f.last_failed_at, f.event_id LIMIT $3",
    )
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One event a service consumed (its inbox row).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ConsumedEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub processed_at: DateTime<Utc>,
    /// Deliveries after the first, skipped.
    pub duplicate_deliveries: i32,
    /// What its handling did, where its handler said ([`crate::Item::note`]).
    pub note: Option<String>,
}

/// The events of saga `correlation_id` this database's service consumed.
pub async fn consumed(pool: &PgPool, correlation_id: &str) -> sqlx::Result<Vec<ConsumedEvent>> {
    sqlx::query_as(
        "SELECT event_id, event_type, processed_at, duplicate_deliveries, note
         FROM processed_messages WHERE correlation_id = $1 ORDER BY processed_at",
    )
    .bind(correlation_id)
    .fetch_all(pool)
    .await
}

/// A consumed event that failed, resolved since or not (its failure log row).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FailedConsumption {
    /// `None` when the message could not even be read as an event.
    pub event_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub kind: String,
    pub attempts: i32,
    pub last_error: String,
    pub last_failed_at: DateTime<Utc>,
}

/// The failed consumptions of saga `correlation_id` in this database's service.
pub async fn failures(pool: &PgPool, correlation_id: &str) -> sqlx::Result<Vec<FailedConsumption>> {
    sqlx::query_as(
        "SELECT event_id, event_type, kind, attempts, last_error, last_failed_at
         FROM message_failures WHERE correlation_id = $1 ORDER BY last_failed_at",
    )
    .bind(correlation_id)
    .fetch_all(pool)
    .await
}

/// A published event's message: its attributes and payload, as its outbox row holds
/// them.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct EventBody {
    pub event_id: Uuid,
    pub attributes: serde_json::Value,
    pub payload: serde_json::Value,
}

/// The messages of these events, of those this database's service published.
pub async fn bodies(pool: &PgPool, event_ids: &[Uuid]) -> sqlx::Result<Vec<EventBody>> {
    sqlx::query_as("SELECT event_id, attributes, payload FROM outbox WHERE event_id = ANY($1)")
        .bind(event_ids)
        .fetch_all(pool)
        .await
}

/// The saga (correlation id) of an event this database's service published or
/// consumed, if it did either.
pub async fn correlation_of(pool: &PgPool, event_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT attributes->>'correlation_id' FROM outbox WHERE event_id = $1
         UNION ALL
         SELECT correlation_id FROM processed_messages WHERE event_id = $1
         LIMIT 1",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await
}

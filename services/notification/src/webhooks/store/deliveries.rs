//! SQL for the operator's view of deliveries: list an endpoint's deliveries, one with
//! its attempts, replay, remove settled ones after retention, and per-endpoint queue ages.

use cartflow_api::webhook::{Attempt, Delivery};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            id: r.id,
            endpoint_id: r.endpoint_id,
            event_id: r.event_id,
            event_type: r.event_type,
            next_attempt_at: (r.status == "pending").then_some(r.next_attempt_at),
            status: r.status,
            attempts: r.attempts,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        }
    }
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, attempts,
    next_attempt_at, last_status_code, last_error, created_at, delivered_at";

/// An endpoint's deliveries newest first, optionally of one status, from after `after`
/// (the last one's `(created_at, id)`).
pub async fn deliveries(
    pool: &PgPool,
    endpoint_id: Uuid,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(endpoint_id)
    .bind(status)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Delivery::from).collect())
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    started_at: DateTime<Utc>,
    latency_ms: i32,
    status_code: Option<i32>,
    response_head: Option<String>,
    error: Option<String>,
}

pub async fn delivery(
    pool: &PgPool,
    endpoint_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<(Delivery, Vec<Attempt>)>> {
    let row: Option<DeliveryRow> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2"
    ))
    .bind(endpoint_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let attempts: Vec<AttemptRow> = sqlx::query_as(
        "SELECT started_at, latency_ms, status_code, response_head, error
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY started_at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some((
        row.into(),
        attempts
            .into_iter()
            .map(|a| Attempt {
                started_at: a.started_at,
                latency_ms: a.latency_ms,
                status_code: a.status_code,
                response_head: a.response_head,
                error: a.error,
            })
            .collect(),
    )))
}

/// Queues deliveries of the endpoint again, due now with a fresh retry budget: one
/// (`only`), or every parked one queued since `since`. A delivery delivered already is
/// sent again only when named. Returns how many were queued again.
pub async fn replay(
    pool: &PgPool,
    endpoint_id: Uuid,
    only: Option<Uuid>,
    since: Option<DateTime<Utc>>,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries
         SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL,
             delivered_at = NULL, updated_at = now()
         WHERE endpoint_id = $1
           AND CASE WHEN $2::uuid IS NOT NULL THEN id = $2 AND status <> 'pending'
                    ELSE status = 'parked' AND created_at >= $3 END",
    )
    .bind(endpoint_id)
    .bind(only)
    .bind(since)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Removes settled deliveries (and their attempts) not touched for `retention`, at most
/// `batch` at once; returns how many.
pub async fn remove_settled(pool: &PgPool, retention: Duration, batch: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE status <> 'pending' AND updated_at < now() - $1 * interval '1 millisecond'
             LIMIT $2)",
    )
    .bind(retention.as_millis() as f64)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Per active endpoint, the age of its oldest pending delivery, in seconds.
pub async fn queue_ages(pool: &PgPool) -> sqlx::Result<Vec<(Uuid, i64, f64)>> {
    sqlx::query_as(
        "SELECT e.id, count(d.id),
                coalesce(extract(epoch FROM now() - min(d.created_at)), 0)::float8
         FROM webhook_endpoints e
         LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.status = 'pending'
         GROUP BY e.id",
    )
    .fetch_all(pool)
    .await
}

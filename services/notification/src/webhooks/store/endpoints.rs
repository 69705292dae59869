//! SQL for webhook endpoints: create, read, list, pause or resume, rotate the secret,
//! delete.

use crate::webhooks::sign::Secret;
use cartflow_api::webhook::Endpoint;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    url: String,
    description: Option<String>,
    events: Vec<String>,
    status: String,
    paused_reason: Option<String>,
    failing_since: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
    pending: i64,
    created_at: DateTime<Utc>,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Endpoint {
            id: r.id,
            url: r.url,
            description: r.description,
            events: r.events,
            status: r.status,
            paused_reason: r.paused_reason,
            failing_since: r.failing_since,
            last_success_at: r.last_success_at,
            previous_secret_expires_at: r.previous_secret_expires_at,
            pending: r.pending,
            created_at: r.created_at,
        }
    }
}

const ENDPOINT_COLUMNS: &str = "e.id, e.url, e.description, e.events, e.status, e.paused_reason,
    e.failing_since, e.last_success_at, e.previous_secret_expires_at, e.created_at,
    (SELECT count(*) FROM webhook_deliveries d
     WHERE d.endpoint_id = e.id AND d.status = 'pending') AS pending";

pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub events: &'a [String],
    pub secret: &'a Secret,
}

pub async fn insert_endpoint(pool: &PgPool, new: &NewEndpoint<'_>) -> sqlx::Result<Endpoint> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, url, description, events, status, secret)
         VALUES ($1, $2, $3, $4, 'active', $5)",
    )
    .bind(new.id)
    .bind(new.url)
    .bind(new.description)
    .bind(new.events)
    .bind(new.secret.expose())
    .execute(pool)
    .await?;
    Ok(endpoint(pool, new.id).await?.expect("just inserted"))
}

pub async fn endpoint(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Endpoint>> {
    let row: Option<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Endpoint::from))
}

/// Endpoints oldest first, from after `after` (the last one's `(created_at, id)`).
pub async fn endpoints(
    pool: &PgPool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Endpoint>> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e
         WHERE $1::timestamptz IS NULL OR (e.created_at, e.id) > ($1, $2)
         ORDER BY e.created_at, e.id LIMIT $3"
    ))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Endpoint::from).collect())
}

/// Pauses (with a reason) or resumes; whether the endpoint exists. Resuming forgets
/// the failure streak, so the automatic pause counts afresh.
pub async fn set_paused(pool: &PgPool, id: Uuid, reason: Option<&str>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints
         SET status = CASE WHEN $2::text IS NULL THEN 'active' ELSE 'paused' END,
             paused_reason = $2,
             failing_since = CASE WHEN $2::text IS NULL THEN NULL ELSE failing_since END,
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes `secret` the endpoint's secret; the one it replaces still signs for `overlap`.
pub async fn rotate_secret(
    pool: &PgPool,
    id: Uuid,
    secret: &Secret,
    overlap: Duration,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints
         SET previous_secret = secret, secret = $2,
             previous_secret_expires_at = now() + $3 * interval '1 millisecond',
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(secret.expose())
    .bind(overlap.as_millis() as f64)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the endpoint with its deliveries and attempts.
pub async fn delete_endpoint(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

//! SQL for the delivery pipeline: queue a consumed event for every subscribed endpoint,
//! take the deliveries that are due, and record a call with its consequence (retry,
//! park, the endpoint's health and automatic pause).

use crate::webhooks::sign::{Keys, Secret};
use cartflow_messaging::Incoming;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// One consumed event as every endpoint subscribed to its type receives it.
pub struct Queued {
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub body: String,
}

impl Queued {
    /// The webhook body of `event`: its payload with `type`, `id` and `timestamp`;
    /// `None` if its type is not one endpoints may subscribe to, or its payload is not
    /// a JSON object (the handler refuses such an event anyway).
    pub fn of(event: &Incoming) -> Option<Queued> {
        let event_type = &event.envelope.event_type;
        if !cartflow_api::webhook::EVENT_TYPES.contains(&event_type.as_str()) {
            return None;
        }
        let serde_json::Value::Object(mut body) = serde_json::from_slice(&event.data).ok()? else {
            return None;
        };
        let id = event.envelope.event_id;
        let at = event.envelope.occurred_at;
        body.insert("type".into(), event_type.as_str().into());
        body.insert("id".into(), id.to_string().into());
        body.insert(
            "timestamp".into(),
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        Some(Queued {
            event_id: id,
            event_type: event_type.clone(),
            occurred_at: at,
            body: serde_json::Value::Object(body).to_string(),
        })
    }
}

/// Queues each event for every endpoint subscribed to its type, with one statement, in
/// the consumer's transaction. An endpoint has an event once, however often queued.
pub async fn enqueue(conn: &mut PgConnection, events: &[Queued]) -> sqlx::Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, occurred_at, body)
         SELECT gen_random_uuid(), e.id, q.event_id, q.event_type, q.occurred_at, q.body
         FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::text[]) WITH ORDINALITY
              AS q(event_id, event_type, occurred_at, body, ord)
         JOIN webhook_endpoints e ON q.event_type = ANY (e.events)
         ORDER BY q.ord, e.id
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
    )
    .bind(events.iter().map(|q| q.event_id).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|q| q.event_type.clone())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|q| q.occurred_at).collect::<Vec<_>>())
    .bind(events.iter().map(|q| q.body.clone()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A delivery a worker took, with what it needs to send it.
pub struct Taken {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub url: String,
    pub body: String,
    pub keys: Keys,
    /// Calls made before this one.
    pub attempts: i32,
    pub queued_at: DateTime<Utc>,
}

/// Takes, for up to `limit` active endpoints not in `busy` and with no call in flight
/// anywhere, the head of their queue (the oldest pending event) if it is due, leased
/// for `lease`. A later event of an endpoint waits for the head: events reach an
/// endpoint in the order they happened.
pub async fn take_due(
    pool: &PgPool,
    busy: &[Uuid],
    limit: i64,
    lease: Duration,
) -> sqlx::Result<Vec<Taken>> {
    type Row = (
        Uuid,
        Uuid,
        Uuid,
        String,
        String,
        i32,
        DateTime<Utc>,
        String,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "WITH heads AS (
             SELECT DISTINCT ON (d.endpoint_id) d.id, d.endpoint_id, d.next_attempt_at, d.locked_until
             FROM webhook_deliveries d
             JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'active'
             WHERE d.status = 'pending' AND NOT (d.endpoint_id = ANY ($1))
             ORDER BY d.endpoint_id, d.occurred_at, d.seq
         ), due AS (
             SELECT h.id FROM heads h
             WHERE h.next_attempt_at <= now()
               AND (h.locked_until IS NULL OR h.locked_until < now())
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x
                               WHERE x.endpoint_id = h.endpoint_id AND x.status = 'pending'
                                 AND x.locked_until >= now())
             ORDER BY h.next_attempt_at
             LIMIT $2
         )
         UPDATE webhook_deliveries d
         SET locked_until = now() + $3 * interval '1 millisecond'
         FROM due, webhook_endpoints e
         WHERE d.id = due.id AND e.id = d.endpoint_id AND d.status = 'pending'
           AND (d.locked_until IS NULL OR d.locked_until < now())
         RETURNING d.id, d.endpoint_id, d.event_id, e.url, d.body, d.attempts, d.created_at,
                   e.secret, e.previous_secret, e.previous_secret_expires_at",
    )
    .bind(busy)
    .bind(limit)
    .bind(lease.as_millis() as f64)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                endpoint_id,
                event_id,
                url,
                body,
                attempts,
                queued_at,
                secret,
                previous,
                until,
            )| {
                Taken {
                    id,
                    endpoint_id,
                    event_id,
                    url,
                    body,
                    keys: Keys {
                        current: Secret::from_stored(secret),
                        previous: previous
                            .zip(until)
                            .map(|(s, u)| (Secret::from_stored(s), u)),
                    },
                    attempts,
                    queued_at,
                }
            },
        )
        .collect())
}

/// What one call came to.
pub struct CallRecord {
    pub started_at: DateTime<Utc>,
    pub latency_ms: i32,
    pub status_code: Option<i32>,
    pub response_head: Option<String>,
    pub error: Option<String>,
    pub delivered: bool,
}

/// What became of a delivery after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    /// To be retried after the given wait.
    Retry,
    Parked,
}

/// An endpoint this call paused: every call failed since `failing_since`.
pub struct Paused {
    pub url: String,
    pub failing_since: DateTime<Utc>,
}

/// Records a call and its consequence, in the caller's transaction: the attempt; the
/// delivery delivered, retried after `retry_in`, or parked (`retry_in` is `None`); the
/// endpoint's health, and its automatic pause once it has failed for `pause_after`.
pub async fn record_call(
    conn: &mut PgConnection,
    taken: &Taken,
    call: &CallRecord,
    retry_in: Option<Duration>,
    pause_after: Duration,
) -> sqlx::Result<(Settled, Option<Paused>)> {
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, started_at, latency_ms, status_code, response_head, error)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(taken.id)
    .bind(call.started_at)
    .bind(call.latency_ms)
    .bind(call.status_code)
    .bind(&call.response_head)
    .bind(&call.error)
    .execute(&mut *conn)
    .await?;
    let settled = match (call.delivered, retry_in) {
        (true, _) => Settled::Delivered,
        (false, Some(_)) => Settled::Retry,
        (false, None) => Settled::Parked,
    };
    let status = match settled {
        Settled::Delivered => "delivered",
        Settled::Retry => "pending",
        Settled::Parked => "parked",
    };
    sqlx::query(
        "UPDATE webhook_deliveries
         SET status = $2, attempts = attempts + 1, locked_until = NULL,
             next_attempt_at = now() + $3 * interval '1 millisecond',
             last_status_code = $4, last_error = $5,
             delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,
             updated_at = now()
         WHERE id = $1",
    )
    .bind(taken.id)
    .bind(status)
    .bind(retry_in.unwrap_or_default().as_millis() as f64)
    .bind(call.status_code)
    .bind(&call.error)
    .execute(&mut *conn)
    .await?;
    if call.delivered {
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = NULL, last_success_at = now() WHERE id = $1",
        )
        .bind(taken.endpoint_id)
        .execute(&mut *conn)
        .await?;
        return Ok((settled, None));
    }
    // Failing since the first failure in a row; paused by this call if it was active
    // and that was at least `pause_after` ago.
    let (url, status, since): (String, String, DateTime<Utc>) = sqlx::query_as(
        "SELECT url, status, coalesce(failing_since, $2) FROM webhook_endpoints
         WHERE id = $1 FOR UPDATE",
    )
    .bind(taken.endpoint_id)
    .bind(call.started_at)
    .fetch_one(&mut *conn)
    .await?;
    let pause = status == "active"
        && chrono::Duration::from_std(pause_after).is_ok_and(|after| since <= Utc::now() - after);
    sqlx::query(
        "UPDATE webhook_endpoints
         SET failing_since = $2,
             status = CASE WHEN $3 THEN 'paused' ELSE status END,
             paused_reason = CASE WHEN $3 THEN $4 ELSE paused_reason END,
             updated_at = now()
         WHERE id = $1",
    )
    .bind(taken.endpoint_id)
    .bind(since)
    .bind(pause)
    .bind(format!(
        "every call failed since {}",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
    .execute(&mut *conn)
    .await?;
    let paused = pause.then_some((url, since));
    Ok((
        settled,
        paused.map(|(url, failing_since)| Paused { url, failing_since }),
    ))
}

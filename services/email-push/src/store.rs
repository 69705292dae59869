//! SQL for emails and push messages.

use crate::domain::{AfterFailure, EmailStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Email {
    pub id: Uuid,
    pub notification_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub status: EmailStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const EMAIL_COLUMNS: &str = "id, notification_id, customer_id, recipient, subject, body, status, attempts, last_error, created_at, sent_at";

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Push {
    pub id: Uuid,
    pub notification_id: Uuid,
    pub customer_id: Uuid,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

const PUSH_COLUMNS: &str = "id, notification_id, customer_id, title, body, created_at";

/// NOTIFY channel of committed push messages; the payload is the message itself.
pub const PUSH_CHANNEL: &str = "push_delivered";

pub struct EmailRequest<'a> {
    pub notification_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub correlation_id: &'a str,
    pub request_event_id: Uuid,
    /// The queuing message's trace context, for the send.
    pub trace_parent: Option<String>,
    /// The push delivered beside it, whose result the email's first attempt reports.
    pub reports_push: Option<Uuid>,
}

/// Queues emails, once per notification, with one statement, already leased (for
/// `lease`) to this process's sender, which gets them in memory when the transaction
/// commits: no claim transaction for a new email. Another sender takes one only if the
/// lease runs out (this process died). Returns, per request, the queued email, or
/// `None` if its notification's email was queued before (or by an earlier request of
/// these).
pub async fn queue_emails<'a>(
    conn: &mut PgConnection,
    requests: &[EmailRequest<'a>],
    lease: Duration,
) -> sqlx::Result<Vec<Option<Due>>> {
    let ids: Vec<Uuid> = requests.iter().map(|_| Uuid::new_v4()).collect();
    let column =
        |f: fn(&EmailRequest<'a>) -> &'a str| -> Vec<&'a str> { requests.iter().map(f).collect() };
    // In the requests' order, so the first request for a notification is the one queued.
    let queued: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO emails (id, notification_id, recipient, subject, body, status,
                             correlation_id, request_event_id, next_attempt_at, customer_id,
                             reports_push)
         SELECT id, notification_id, recipient, subject, body, $9,
                correlation_id, request_event_id, now() + $10, customer_id, reports_push
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::uuid[], $8::uuid[], $11::uuid[]) WITH ORDINALITY
              AS e(id, notification_id, recipient, subject, body, correlation_id,
                   request_event_id, customer_id, reports_push, n)
         ORDER BY n
         ON CONFLICT (notification_id) DO NOTHING
         RETURNING id",
    )
    .bind(&ids)
    .bind(
        requests
            .iter()
            .map(|e| e.notification_id)
            .collect::<Vec<_>>(),
    )
    .bind(column(|e| e.recipient))
    .bind(column(|e| e.subject))
    .bind(column(|e| e.body))
    .bind(column(|e| e.correlation_id))
    .bind(
        requests
            .iter()
            .map(|e| e.request_event_id)
            .collect::<Vec<_>>(),
    )
    .bind(requests.iter().map(|e| e.customer_id).collect::<Vec<_>>())
    .bind(EmailStatus::Pending.as_str())
    .bind(lease)
    .bind(requests.iter().map(|e| e.reports_push).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    let queued: HashSet<Uuid> = queued.into_iter().collect();
    Ok(requests
        .iter()
        .zip(ids)
        .map(|(e, id)| {
            queued.contains(&id).then(|| Due {
                id,
                notification_id: e.notification_id,
                recipient: e.recipient.to_string(),
                subject: e.subject.to_string(),
                body: e.body.to_string(),
                attempts: 0,
                correlation_id: e.correlation_id.to_string(),
                request_event_id: e.request_event_id,
                trace_parent: e.trace_parent.clone(),
            })
        })
        .collect())
}

/// A message for a customer's inbox.
pub struct PushRequest<'a> {
    pub notification_id: Uuid,
    pub customer_id: Uuid,
    pub title: &'a str,
    pub body: &'a str,
}

/// Puts messages in their customers' inboxes (once per notification) and announces
/// each, whole, on commit, so live streams need no read; one statement for all.
/// Returns, per message, whether it went in (false: it was there already, or an
/// earlier message of these was for the same notification).
pub async fn deliver_pushes(
    conn: &mut PgConnection,
    pushes: &[PushRequest<'_>],
) -> sqlx::Result<Vec<bool>> {
    let ids: Vec<Uuid> = pushes.iter().map(|_| Uuid::new_v4()).collect();
    // The payload is the row as JSON, which reads back as a `Push`. NOTIFY payloads stop
    // at 8000 bytes; a longer message is announced by id.
    // `pg_notify` in the select list: a WHERE that always holds could be folded away.
    let announced: Vec<(Uuid, ())> = sqlx::query_as(&format!(
        "WITH pushed AS (
             INSERT INTO push_messages (id, notification_id, customer_id, title, body)
             SELECT id, notification_id, customer_id, title, body
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[])
                  WITH ORDINALITY AS p(id, notification_id, customer_id, title, body, n)
             ORDER BY n
             ON CONFLICT (notification_id) DO NOTHING RETURNING {PUSH_COLUMNS}
         ), payload AS (
             SELECT id, row_to_json(pushed)::text AS json FROM pushed
         )
         SELECT id, pg_notify($6, CASE WHEN octet_length(json) > 7900 THEN id::text ELSE json END)
         FROM payload"
    ))
    .bind(&ids)
    .bind(pushes.iter().map(|p| p.notification_id).collect::<Vec<_>>())
    .bind(pushes.iter().map(|p| p.customer_id).collect::<Vec<_>>())
    .bind(pushes.iter().map(|p| p.title).collect::<Vec<_>>())
    .bind(pushes.iter().map(|p| p.body).collect::<Vec<_>>())
    .bind(PUSH_CHANNEL)
    .fetch_all(conn)
    .await?;
    let announced: HashSet<Uuid> = announced.into_iter().map(|(id, ())| id).collect();
    Ok(ids.iter().map(|id| announced.contains(id)).collect())
}

/// An email the sender has claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: Uuid,
    pub notification_id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
    pub correlation_id: String,
    pub request_event_id: Uuid,
    /// The queuing message's trace context, for a send handed over in memory.
    #[sqlx(skip)]
    pub trace_parent: Option<String>,
}

/// Claims up to `limit` due emails for `lease`: another sender (or this one after a
/// crash) takes them again only when the lease runs out.
pub async fn claim_due(pool: &PgPool, limit: i64, lease: Duration) -> sqlx::Result<Vec<Due>> {
    // The status is written into the text, not bound: only a literal lets the planner
    // use the partial index `emails_due` (`WHERE status = 'pending'`).
    sqlx::query_as(&format!(
        "UPDATE emails SET next_attempt_at = now() + $2
         WHERE id IN (SELECT id FROM emails WHERE status = '{}' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, notification_id, recipient, subject, body, attempts, correlation_id, request_event_id",
        EmailStatus::Pending.as_str()
    ))
    .bind(limit)
    .bind(lease)
    .fetch_all(pool)
    .await
}

/// What recording an attempt left: the email's attempts so far, and the push whose
/// result it now reports (taken off the row, so it is reported once).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Recorded {
    pub attempts: i32,
    pub reports_push: Option<Uuid>,
}

/// Marks these emails sent, in one statement; returns what each recorded.
pub async fn mark_sent(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> sqlx::Result<std::collections::HashMap<Uuid, Recorded>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Uuid, i32, Option<Uuid>)> = sqlx::query_as(
        "UPDATE emails e SET status = $2, attempts = e.attempts + 1, sent_at = now(),
                             last_error = NULL, reports_push = NULL
         FROM (SELECT id, reports_push FROM emails WHERE id = ANY($1) FOR UPDATE) was
         WHERE e.id = was.id RETURNING e.id, e.attempts, was.reports_push",
    )
    .bind(ids)
    .bind(EmailStatus::Sent.as_str())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, attempts, reports_push)| {
            (
                id,
                Recorded {
                    attempts,
                    reports_push,
                },
            )
        })
        .collect())
}

/// Records a failed attempt and what follows it (`RetryPolicy::after_failure`): pending
/// again after a wait, or failed for good.
pub async fn mark_attempt_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    next: AfterFailure,
) -> sqlx::Result<Recorded> {
    sqlx::query_as(
        "UPDATE emails e SET attempts = e.attempts + 1, last_error = $2, status = $3,
                next_attempt_at = now() + $4::interval, reports_push = NULL
         FROM (SELECT id, reports_push FROM emails WHERE id = $1 FOR UPDATE) was
         WHERE e.id = was.id RETURNING e.attempts, was.reports_push",
    )
    .bind(id)
    .bind(error)
    .bind(next.status().as_str())
    .bind(next.retry_in().unwrap_or_default())
    .fetch_one(conn)
    .await
}

/// The latest emails, to `to` if given, and of `customer` if given.
/// Up to `limit` emails, to `to` if given and of `customer` if given, newest first,
/// after the (created_at, id) given.
pub async fn emails(
    pool: &PgPool,
    to: Option<&str>,
    customer: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Email>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {EMAIL_COLUMNS} FROM emails WHERE ($1::text IS NULL OR recipient = lower($1))
           AND ($2::uuid IS NULL OR customer_id = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(to)
    .bind(customer)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Up to `limit` of a customer's push messages, newest first, after the
/// (created_at, id) given.
pub async fn pushes(
    pool: &PgPool,
    customer_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Push>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {PUSH_COLUMNS} FROM push_messages WHERE customer_id = $1
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(customer_id)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn push(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Push>> {
    sqlx::query_as(&format!(
        "SELECT {PUSH_COLUMNS} FROM push_messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

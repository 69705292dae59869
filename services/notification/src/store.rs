//! SQL for contacts and notifications.

use crate::domain::{Kind, Status};
use cartflow_events::{Channel, CustomerDetails, DeliveryOutcome};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

pub use cartflow_api::notification::Notification;

/// A `notifications` row, as [`COLUMNS`] reads it; mapped into the API type.
#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: Uuid,
    customer_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    kind: Kind,
    #[sqlx(try_from = "String")]
    channel: Channel,
    recipient: Option<String>,
    subject: String,
    body: String,
    #[sqlx(try_from = "String")]
    status: Status,
    attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Self {
        Notification {
            id: r.id,
            customer_id: r.customer_id,
            kind: r.kind,
            channel: r.channel,
            recipient: r.recipient,
            subject: r.subject,
            body: r.body,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, customer_id, kind, channel, recipient, subject, body, status, attempts, last_error, created_at, updated_at";

/// A customer's name and email, unless unknown or deleted.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
}

/// Writes the details unless a newer event already did.
pub async fn upsert_contact(
    conn: &mut PgConnection,
    c: &CustomerDetails,
    version: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO contacts (customer_id, name, email, phone, deleted, version) VALUES ($1, $2, $3, $4, false, $5)
         ON CONFLICT (customer_id) DO UPDATE
         SET name = EXCLUDED.name, email = EXCLUDED.email, phone = EXCLUDED.phone, deleted = false,
             version = EXCLUDED.version
         WHERE contacts.version < EXCLUDED.version",
    )
    .bind(c.customer_id)
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(version)
    .execute(conn)
    .await
    .map(drop)
}

/// Forgets the details, leaving a tombstone so an older update cannot bring them back.
pub async fn tombstone_contact(
    conn: &mut PgConnection,
    customer_id: Uuid,
    version: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO contacts (customer_id, name, deleted, version) VALUES ($1, '', true, $2)
         ON CONFLICT (customer_id) DO UPDATE
         SET name = '', email = NULL, phone = NULL, deleted = true, version = EXCLUDED.version
         WHERE contacts.version < EXCLUDED.version",
    )
    .bind(customer_id)
    .bind(version)
    .execute(conn)
    .await
    .map(drop)
}

/// The customer's contact, unless unknown or deleted.
pub async fn contact(conn: &mut PgConnection, customer_id: Uuid) -> sqlx::Result<Option<Contact>> {
    Ok(contacts(conn, &[customer_id]).await?.remove(&customer_id))
}

/// The contacts of these customers, known and not deleted, with one statement.
pub async fn contacts(
    conn: &mut PgConnection,
    customer_ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, Contact>> {
    let rows: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT customer_id, name, email FROM contacts
         WHERE customer_id = ANY($1) AND NOT deleted",
    )
    .bind(customer_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, email)| (id, Contact { name, email }))
        .collect())
}

pub struct NewNotification<'a> {
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub kind: Kind,
    pub channel: Channel,
    pub recipient: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub status: Status,
    /// Why it cannot even be attempted (no address), for a notification that starts
    /// `failed`.
    pub refused: Option<&'a str>,
    pub source_event_id: Option<Uuid>,
}

/// Records notifications in one statement, one per channel given; returns those
/// recorded. A channel this source event already has a notification on is skipped: by
/// an earlier statement, or by an earlier row of this one (rows go in in order).
pub async fn insert(
    conn: &mut PgConnection,
    new: &[NewNotification<'_>],
) -> sqlx::Result<Vec<Notification>> {
    // Owned columns: a query holding borrowed arguments makes the callers' futures fail
    // the compiler's higher-ranked `Send` check.
    let column = |f: &dyn Fn(&NewNotification<'_>) -> Option<String>| -> Vec<Option<String>> {
        new.iter().map(f).collect()
    };
    let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
        "INSERT INTO notifications (id, customer_id, kind, channel, recipient, subject, body, status, last_error, source_event_id)
         SELECT id, customer_id, kind, channel, recipient, subject, body, status, last_error, source_event_id
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::text[], $10::uuid[]) WITH ORDINALITY
              AS n(id, customer_id, kind, channel, recipient, subject, body, status, last_error,
                   source_event_id, ord)
         ORDER BY ord
         ON CONFLICT (source_event_id, channel) DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(new.iter().map(|n| n.id).collect::<Vec<_>>())
    .bind(new.iter().map(|n| n.customer_id).collect::<Vec<_>>())
    .bind(column(&|n| Some(n.kind.as_str().to_string())))
    .bind(column(&|n| Some(n.channel.as_str().to_string())))
    .bind(column(&|n| n.recipient.map(str::to_string)))
    .bind(column(&|n| Some(n.subject.to_string())))
    .bind(column(&|n| Some(n.body.to_string())))
    .bind(column(&|n| Some(n.status.as_str().to_string())))
    .bind(column(&|n| n.refused.map(str::to_string)))
    .bind(new.iter().map(|n| n.source_event_id).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Notification::from).collect())
}

/// Settles pending notifications from their delivery results, with one statement:
/// pending → sent / failed (`Status::settled`). Returns the ids of results that
/// settled nothing (the notification was not pending). Of several results for one
/// notification, the first settles it.
pub async fn record_results(
    conn: &mut PgConnection,
    results: &[&DeliveryOutcome],
) -> sqlx::Result<Vec<Uuid>> {
    let mut first = HashSet::new();
    let (mut ids, mut statuses, mut attempts, mut errors) = (vec![], vec![], vec![], vec![]);
    for r in results.iter().filter(|r| first.insert(r.notification_id)) {
        ids.push(r.notification_id);
        statuses.push(Status::settled(r.delivered).as_str());
        attempts.push(r.attempts);
        errors.push(r.error.as_deref());
    }
    let mut settled: HashSet<Uuid> = sqlx::query_scalar(
        "UPDATE notifications n
         SET status = r.status, attempts = r.attempts, last_error = r.error, updated_at = now()
         FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::text[]) AS r(id, status, attempts, error)
         WHERE n.id = r.id AND n.status = $5
         RETURNING n.id",
    )
    .bind(ids)
    .bind(statuses)
    .bind(attempts)
    .bind(errors)
    .bind(Status::Pending.as_str())
    .fetch_all(conn)
    .await?
    .into_iter()
    .collect();
    // Each settled id stands for its first result; every other result settled nothing.
    Ok(results
        .iter()
        .map(|r| r.notification_id)
        .filter(|id| !settled.remove(id))
        .collect())
}

/// Up to `limit` notifications (of one customer, or all), newest first, after the
/// (created_at, id) given.
pub async fn list(
    pool: &PgPool,
    customer_id: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Notification>> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE ($1::uuid IS NULL OR customer_id = $1)
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(customer_id)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Notification::from).collect())
}

pub async fn get(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Notification>> {
    let row: Option<NotificationRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Notification::from))
}

//! SQL for payments. Every change is guarded by the status it expects, in the same
//! statement, so two deliveries (or a delivery and the worker) racing each other
//! cannot both apply.

use crate::domain::{Payment, PaymentStatus};
use cartflow_events::{CardSummary, LineItem, ShippingAddress};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, Row};
use std::collections::HashMap;
use uuid::Uuid;

const COLUMNS: &str = "id, checkout_id, cart_id, customer_id, order_id, status, amount_cents,
    currency, captured_cents, refunded_cents, payment_method, card_brand, card_last4,
    intent_id, decline_code, attempts, last_error, created_at, updated_at";

fn status_of(text: String) -> sqlx::Result<PaymentStatus> {
    text.parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}

fn from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<Payment> {
    let brand: Option<String> = row.try_get("card_brand")?;
    let last4: Option<String> = row.try_get("card_last4")?;
    Ok(Payment {
        id: row.try_get("id")?,
        checkout_id: row.try_get("checkout_id")?,
        cart_id: row.try_get("cart_id")?,
        customer_id: row.try_get("customer_id")?,
        order_id: row.try_get("order_id")?,
        status: status_of(row.try_get("status")?)?,
        amount_cents: row.try_get("amount_cents")?,
        currency: row.try_get("currency")?,
        captured_cents: row.try_get("captured_cents")?,
        refunded_cents: row.try_get("refunded_cents")?,
        payment_method: row.try_get("payment_method")?,
        card: brand
            .zip(last4)
            .map(|(brand, last4)| CardSummary { brand, last4 }),
        intent_id: row.try_get("intent_id")?,
        decline_code: row.try_get("decline_code")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
        updated_at: row.try_get::<DateTime<Utc>, _>("updated_at")?,
    })
}

#[derive(Debug, Default)]
pub struct PaymentFilter {
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub checkout_id: Option<Uuid>,
}

/// Up to `limit` payments matching `filter`, newest first, after the (created_at, id)
/// given.
pub async fn list<'e>(
    db: impl PgExecutor<'e>,
    filter: &PaymentFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Payment>> {
    let (after_at, after_id) = after.unzip();
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE ($1::uuid IS NULL OR customer_id = $1)
           AND ($2::uuid IS NULL OR order_id = $2)
           AND ($3::uuid IS NULL OR checkout_id = $3)
           AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
         ORDER BY created_at DESC, id DESC LIMIT $6"
    ))
    .bind(filter.customer_id)
    .bind(filter.order_id)
    .bind(filter.checkout_id)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every payment, for the reconciliation.
pub async fn all<'e>(db: impl PgExecutor<'e>) -> sqlx::Result<Vec<Payment>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments ORDER BY created_at"
    ))
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get<'e>(db: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<Payment>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A checkout to authorize, as `order-requested` describes it.
pub struct NewPayment<'a> {
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub payment_method: Option<&'a str>,
    pub status: PaymentStatus,
    pub decline_code: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub items: &'a [LineItem],
    pub shipping_address: Option<&'a ShippingAddress>,
    pub caused_by: &'a str,
    pub traceparent: Option<String>,
    /// A step to make (`authorizing`) is claimed for this long by whoever writes it
    /// (see [`Step`]).
    pub claim: std::time::Duration,
}

/// Records the checkout's payment, unless it has one: returns it if this inserted it.
pub async fn insert(conn: &mut PgConnection, new: &NewPayment<'_>) -> sqlx::Result<Option<Record>> {
    let row = sqlx::query(&format!(
        "INSERT INTO payments (id, checkout_id, cart_id, customer_id, amount_cents, currency,
             payment_method, status, decline_code, expires_at, items, shipping_address,
             caused_by, traceparent, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now() + $15)
         ON CONFLICT (checkout_id) DO NOTHING RETURNING {COLUMNS}, {RECORD}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.checkout_id)
    .bind(new.cart_id)
    .bind(new.customer_id)
    .bind(new.amount_cents)
    .bind(new.currency)
    .bind(new.payment_method)
    .bind(new.status.as_str())
    .bind(new.decline_code)
    .bind(new.expires_at)
    .bind(Json(new.items))
    .bind(new.shipping_address.map(Json))
    .bind(new.caused_by)
    .bind(&new.traceparent)
    .bind(new.claim)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record_from_row).transpose()
}

/// [`insert`] for several checkouts, in one statement: returns, by checkout, each
/// payment this inserted; a checkout that had one, or is given twice, gets none (again).
/// The rows go in in checkout order, so two batches inserting the same new checkouts
/// queue on the unique index rather than deadlock.
pub async fn insert_all(
    conn: &mut PgConnection,
    news: &[NewPayment<'_>],
) -> sqlx::Result<HashMap<Uuid, Record>> {
    // Stable: of a checkout given twice, the first goes in.
    let mut sorted: Vec<&NewPayment<'_>> = news.iter().collect();
    sorted.sort_by_key(|n| n.checkout_id);
    let news = sorted;
    let column = |f: for<'b> fn(&'b NewPayment<'b>) -> Option<&'b str>| {
        news.iter()
            .map(|n| f(n).map(str::to_string))
            .collect::<Vec<_>>()
    };
    let rows = sqlx::query(&format!(
        "INSERT INTO payments (id, checkout_id, cart_id, customer_id, amount_cents, currency,
             payment_method, status, decline_code, expires_at, items, shipping_address,
             caused_by, traceparent, next_attempt_at)
         SELECT id, checkout_id, cart_id, customer_id, amount_cents, currency, payment_method,
                status, decline_code, expires_at, items, shipping_address, caused_by,
                traceparent, now() + claim_ms * interval '1 millisecond'
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::jsonb[],
                     $12::jsonb[], $13::text[], $14::text[], $15::bigint[])
             AS n(id, checkout_id, cart_id, customer_id, amount_cents, currency, payment_method,
                  status, decline_code, expires_at, items, shipping_address, caused_by,
                  traceparent, claim_ms)
         ON CONFLICT (checkout_id) DO NOTHING RETURNING {COLUMNS}, {RECORD}"
    ))
    .bind(news.iter().map(|_| Uuid::new_v4()).collect::<Vec<_>>())
    .bind(news.iter().map(|n| n.checkout_id).collect::<Vec<_>>())
    .bind(news.iter().map(|n| n.cart_id).collect::<Vec<_>>())
    .bind(news.iter().map(|n| n.customer_id).collect::<Vec<_>>())
    .bind(news.iter().map(|n| n.amount_cents).collect::<Vec<_>>())
    .bind(column(|n| Some(n.currency)))
    .bind(column(|n| n.payment_method))
    .bind(column(|n| Some(n.status.as_str())))
    .bind(column(|n| n.decline_code))
    .bind(news.iter().map(|n| n.expires_at).collect::<Vec<_>>())
    .bind(news.iter().map(|n| Json(n.items)).collect::<Vec<_>>())
    .bind(
        news.iter()
            .map(|n| n.shipping_address.map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(column(|n| Some(n.caused_by)))
    .bind(column(|n| n.traceparent.as_deref()))
    .bind(news.iter().map(|n| millis(n.claim)).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| record_from_row(row).map(|r| (r.checkout_id, r)))
        .collect()
}

/// A payment as the handlers and the worker decide on it: what `GET /payments` shows
/// (reached through `Deref`), and what only the saga needs.
#[derive(Debug, Clone)]
pub struct Record {
    pub payment: Payment,
    pub void_requested: bool,
    pub refund_requested: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub items: Vec<LineItem>,
    pub shipping_address: Option<ShippingAddress>,
    pub caused_by: Option<String>,
    pub traceparent: Option<String>,
}

impl std::ops::Deref for Record {
    type Target = Payment;
    fn deref(&self) -> &Payment {
        &self.payment
    }
}

impl std::ops::DerefMut for Record {
    fn deref_mut(&mut self) -> &mut Payment {
        &mut self.payment
    }
}

/// The saga's columns, read after [`COLUMNS`].
const RECORD: &str = "void_requested, refund_requested, expires_at, items, shipping_address,
    caused_by, traceparent";

fn record_from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<Record> {
    Ok(Record {
        payment: from_row(row)?,
        void_requested: row.try_get("void_requested")?,
        refund_requested: row.try_get("refund_requested")?,
        expires_at: row.try_get("expires_at")?,
        items: row.try_get::<Json<Vec<LineItem>>, _>("items")?.0,
        shipping_address: row
            .try_get::<Option<Json<ShippingAddress>>, _>("shipping_address")?
            .map(|j| j.0),
        caused_by: row.try_get("caused_by")?,
        traceparent: row.try_get("traceparent")?,
    })
}

/// Locks the payments of these checkouts that exist, in checkout order: a consumer's
/// batch and the worker's answers take their rows in the same order, so they queue
/// instead of deadlocking (PostgreSQL would break a deadlock only after a second, and
/// the loser's work would wait for a retry).
pub async fn lock_all(conn: &mut PgConnection, checkout_ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT 1 FROM payments WHERE checkout_id = ANY($1) ORDER BY checkout_id FOR UPDATE",
    )
    .bind(checkout_ids)
    .execute(conn)
    .await
    .map(drop)
}

/// Locks the checkout's payment, if it has one: every decision on it is taken under
/// this lock, the worker's included.
pub async fn lock(conn: &mut PgConnection, checkout_id: Uuid) -> sqlx::Result<Option<Record>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, {RECORD} FROM payments WHERE checkout_id = $1 FOR UPDATE"
    ))
    .bind(checkout_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record_from_row).transpose()
}

/// Payments read once for a batch, under its locks: each is handed out once, and read
/// again (locked) if asked for a second time, since the batch may have changed it
/// meanwhile. Saves a statement per message when a batch's messages each decide on one
/// payment.
#[derive(Default)]
pub struct Locked(HashMap<Uuid, Record>);

impl Locked {
    /// Locks and reads the payments of these checkouts that exist, in checkout order
    /// (as [`lock_all`]).
    pub async fn read(conn: &mut PgConnection, checkout_ids: &[Uuid]) -> sqlx::Result<Locked> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, {RECORD} FROM payments WHERE checkout_id = ANY($1)
             ORDER BY checkout_id FOR UPDATE"
        ))
        .bind(checkout_ids)
        .fetch_all(conn)
        .await?;
        let records = rows
            .iter()
            .map(|row| record_from_row(row).map(|r| (r.checkout_id, r)))
            .collect::<sqlx::Result<_>>()?;
        Ok(Locked(records))
    }

    /// The checkout's payment, locked ([`lock`]): as read, the first time.
    pub async fn take(
        &mut self,
        conn: &mut PgConnection,
        checkout_id: Uuid,
    ) -> sqlx::Result<Option<Record>> {
        match self.0.remove(&checkout_id) {
            Some(record) => Ok(Some(record)),
            None => lock(conn, checkout_id).await,
        }
    }
}

/// A payment whose provider step is to be made. Written into the statements, not bound:
/// only a literal lets the planner use the partial index `payments_due`.
const STEP_PENDING: &str = "status IN ('authorizing', 'capturing', 'voiding', 'refunding')";

/// Claims up to `limit` payments whose provider step is due, not in `skip`, for
/// `lease`: they are not due again, for this worker or another instance's, until the
/// lease ends or their answer is recorded (which sets the next step's time). A worker
/// that dies with a call out leaves its claim to run out, and the step is asked again
/// then, with the same key. Rows another claim holds are skipped, not waited for.
pub async fn claim_due<'e>(
    db: impl PgExecutor<'e>,
    skip: &[Uuid],
    limit: i64,
    lease: std::time::Duration,
) -> sqlx::Result<Vec<Record>> {
    let rows = sqlx::query(&format!(
        "UPDATE payments SET next_attempt_at = now() + $3
         WHERE id IN (
             SELECT id FROM payments
             WHERE {STEP_PENDING}
               AND next_attempt_at <= now() AND NOT (id = ANY($1))
             ORDER BY next_attempt_at LIMIT $2
             FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}, {RECORD}"
    ))
    .bind(skip)
    .bind(limit)
    .bind(lease)
    .fetch_all(db)
    .await?;
    rows.iter().map(record_from_row).collect()
}

/// Gives up this process's claims on steps it was handed but did not start (it is
/// stopping): they are due at once, for another instance's worker or this one's next
/// start, instead of when their claims would have run out.
pub async fn release<'e>(db: impl PgExecutor<'e>, ids: &[Uuid]) -> sqlx::Result<u64> {
    sqlx::query(&format!(
        "UPDATE payments SET next_attempt_at = now() WHERE id = ANY($1) AND {STEP_PENDING}"
    ))
    .bind(ids)
    .execute(db)
    .await
    .map(|done| done.rows_affected())
}

/// A provider step to make: the payment `id` moves to `to` on behalf of the event
/// `caused_by`. The step is due once `claim` has passed: a handler claims it for as
/// long as a call can take and hands it to the worker in memory once its transaction
/// commits (so no second statement claims it, and no poll waits for it); the worker
/// asks with `Duration::ZERO` for its own next poll. A claim whose holder died runs out
/// and the step is due again (same idempotency key).
pub struct Step<'a> {
    pub id: Uuid,
    pub to: PaymentStatus,
    /// The order the payment now names, if this step tells it.
    pub order_id: Option<Uuid>,
    pub caused_by: &'a str,
    pub traceparent: Option<String>,
    pub claim: std::time::Duration,
}

/// Requests one step ([`Step`]) and returns its payment.
pub async fn request(conn: &mut PgConnection, step: Step<'_>) -> sqlx::Result<Record> {
    request_all(conn, std::slice::from_ref(&step))
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)
}

/// Requests several steps, of distinct payments, in one statement, and returns their
/// payments (in no particular order); a payment that is not there is left out.
pub async fn request_all(conn: &mut PgConnection, steps: &[Step<'_>]) -> sqlx::Result<Vec<Record>> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&format!(
        "UPDATE payments p SET status = s.status, order_id = COALESCE(s.order_id, p.order_id),
             caused_by = s.caused_by, traceparent = s.traceparent, attempts = 0,
             last_error = NULL, next_attempt_at = now() + s.claim_ms * interval '1 millisecond',
             updated_at = now()
         FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::bigint[])
             AS s(id, status, order_id, caused_by, traceparent, claim_ms)
         WHERE p.id = s.id RETURNING {}, {}",
        prefixed(COLUMNS),
        prefixed(RECORD)
    ))
    .bind(steps.iter().map(|s| s.id).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.to.as_str()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.order_id).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.caused_by).collect::<Vec<_>>())
    .bind(
        steps
            .iter()
            .map(|s| s.traceparent.clone())
            .collect::<Vec<_>>(),
    )
    .bind(steps.iter().map(|s| millis(s.claim)).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    rows.iter().map(record_from_row).collect()
}

/// A column list's names, each qualified with the table alias `p` (an `UPDATE … FROM`
/// would otherwise find some of them ambiguous).
fn prefixed(columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("p.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A claim's length as the statements take it.
fn millis(claim: std::time::Duration) -> i64 {
    i64::try_from(claim.as_millis()).unwrap_or(i64::MAX)
}

/// Flags a payment whose provider step is out: the checkout was given up (`void`) or
/// the order cancelled (`refund`); the worker acts on the flag when the step lands.
pub async fn flag(conn: &mut PgConnection, id: Uuid, void: bool, refund: bool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE payments SET void_requested = void_requested OR $2,
             refund_requested = refund_requested OR $3, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(void)
    .bind(refund)
    .execute(conn)
    .await
    .map(drop)
}

/// A provider's answer to record: what it changes in the payment `id`, applied only if
/// the payment is still in the status the call was made for (`from`).
#[derive(Debug)]
pub struct Settled {
    pub id: Uuid,
    pub from: PaymentStatus,
    pub status: Option<PaymentStatus>,
    pub intent_id: Option<String>,
    pub card: Option<CardSummary>,
    pub decline_code: Option<String>,
    pub captured_cents: Option<i64>,
    pub refunded_cents: Option<i64>,
}

impl Settled {
    /// The payment's answer that moves it to `status`; nothing else changed yet.
    pub fn to(id: Uuid, from: PaymentStatus, status: PaymentStatus) -> Settled {
        Settled {
            id,
            from,
            status: Some(status),
            intent_id: None,
            card: None,
            decline_code: None,
            captured_cents: None,
            refunded_cents: None,
        }
    }
}

/// Records provider answers, in one statement. Returns how many were recorded: one
/// whose payment moved on meanwhile changes nothing and is not counted.
pub async fn settle_all(conn: &mut PgConnection, settled: &[Settled]) -> sqlx::Result<u64> {
    if settled.is_empty() {
        return Ok(0);
    }
    let column = |f: fn(&Settled) -> Option<&str>| {
        settled
            .iter()
            .map(|s| f(s).map(str::to_string))
            .collect::<Vec<_>>()
    };
    let result = sqlx::query(
        "UPDATE payments p SET status = COALESCE(s.status, p.status),
             intent_id = COALESCE(s.intent_id, p.intent_id),
             card_brand = COALESCE(s.brand, p.card_brand),
             card_last4 = COALESCE(s.last4, p.card_last4),
             decline_code = COALESCE(s.decline_code, p.decline_code),
             captured_cents = COALESCE(s.captured, p.captured_cents),
             refunded_cents = COALESCE(s.refunded, p.refunded_cents),
             attempts = p.attempts + 1, last_error = NULL, next_attempt_at = now(),
             updated_at = now()
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::bigint[], $9::bigint[])
             AS s(id, from_status, status, intent_id, brand, last4, decline_code, captured,
                  refunded)
         WHERE p.id = s.id AND p.status = s.from_status",
    )
    .bind(settled.iter().map(|s| s.id).collect::<Vec<_>>())
    .bind(column(|s| Some(s.from.as_str())))
    .bind(column(|s| s.status.map(PaymentStatus::as_str)))
    .bind(column(|s| s.intent_id.as_deref()))
    .bind(column(|s| s.card.as_ref().map(|c| c.brand.as_str())))
    .bind(column(|s| s.card.as_ref().map(|c| c.last4.as_str())))
    .bind(column(|s| s.decline_code.as_deref()))
    .bind(settled.iter().map(|s| s.captured_cents).collect::<Vec<_>>())
    .bind(settled.iter().map(|s| s.refunded_cents).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// A call that failed for a passing reason: try again after `delay`.
pub async fn retry_later(
    conn: &mut PgConnection,
    id: Uuid,
    from: PaymentStatus,
    delay: std::time::Duration,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE payments SET attempts = attempts + 1, last_error = $3,
             next_attempt_at = now() + $4, updated_at = now()
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(error)
    .bind(delay)
    .execute(conn)
    .await
    .map(drop)
}

/// A provider step refused outright: the payment waits for an operator.
pub async fn fail(
    conn: &mut PgConnection,
    id: Uuid,
    from: PaymentStatus,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE payments SET status = 'failed', attempts = attempts + 1, last_error = $3,
             updated_at = now()
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(error)
    .execute(conn)
    .await
    .map(drop)
}

//! SQL for orders.

use crate::domain::{CheckoutRecord, Order, OrderStatus};
use cartflow_events::{CheckoutExpired, LineItem, PaymentAuthorized, ShippingAddress};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, Row};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Default)]
pub struct OrderFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    pub cart_id: Option<Uuid>,
}

const SELECT: &str =
    "SELECT o.id, o.cart_id, o.checkout_id, o.customer_id, o.status, o.total_cents, o.cancel_reason,
        o.payment_id, o.shipping_address, o.created_at, o.updated_at,
        COALESCE(json_agg(json_build_object('product_sku', i.product_sku, 'quantity', i.quantity,
                 'unit_price_cents', i.unit_price_cents) ORDER BY i.line_no)
                 FILTER (WHERE i.order_id IS NOT NULL), '[]') AS items
    FROM orders o LEFT JOIN order_items i ON i.order_id = o.id";

fn from_row(row: sqlx::postgres::PgRow) -> sqlx::Result<Order> {
    let status: String = row.try_get("status")?;
    Ok(Order {
        id: row.try_get("id")?,
        cart_id: row.try_get("cart_id")?,
        checkout_id: row.try_get("checkout_id")?,
        customer_id: row.try_get("customer_id")?,
        status: status
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        items: row
            .try_get::<sqlx::types::Json<Vec<LineItem>>, _>("items")?
            .0,
        total_cents: row.try_get("total_cents")?,
        cancel_reason: row.try_get("cancel_reason")?,
        payment_id: row.try_get("payment_id")?,
        shipping_address: row
            .try_get::<Option<sqlx::types::Json<ShippingAddress>>, _>("shipping_address")?
            .map(|a| a.0),
        created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
        updated_at: row.try_get::<DateTime<Utc>, _>("updated_at")?,
    })
}

/// Up to `limit` orders matching `filter`, newest first, after the (created_at, id)
/// given.
pub async fn list<'e>(
    db: impl PgExecutor<'e>,
    filter: &OrderFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Order>> {
    let (after_at, after_id) = after.unzip();
    let sql = format!(
        "{SELECT} WHERE ($1::uuid IS NULL OR o.customer_id = $1)
           AND ($2::text IS NULL OR o.status = $2)
           AND ($3::uuid IS NULL OR o.cart_id = $3)
           AND ($4::timestamptz IS NULL OR (o.created_at, o.id) < ($4, $5))
         GROUP BY o.id ORDER BY o.created_at DESC, o.id DESC LIMIT $6"
    );
    let rows = sqlx::query(&sql)
        .bind(filter.customer_id)
        .bind(filter.status.map(OrderStatus::as_str))
        .bind(filter.cart_id)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn get<'e>(db: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<Order>> {
    let row = sqlx::query(&format!("{SELECT} WHERE o.id = $1 GROUP BY o.id"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(from_row).transpose()
}

/// Locks the order; its status and its customer.
pub async fn lock_status(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(OrderStatus, Uuid)>> {
    let row: Option<(String, Uuid)> =
        sqlx::query_as("SELECT status, customer_id FROM orders WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(|(status, customer)| {
        let status = status
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?;
        Ok((status, customer))
    })
    .transpose()
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: OrderStatus,
    cancel_reason: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET status = $2, cancel_reason = COALESCE($3, cancel_reason), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(cancel_reason)
    .execute(conn)
    .await
    .map(drop)
}

/// The order a checkout needs.
pub struct NewOrder<'a> {
    /// Chosen by the caller, who announces it.
    pub id: Uuid,
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub items: &'a [LineItem],
    pub total_cents: i64,
    /// The held authorization the order is made with.
    pub payment_id: Option<Uuid>,
    pub shipping_address: Option<&'a ShippingAddress>,
}

/// Creates each checkout's order and its lines, in one statement, unless the checkout
/// was decided before (it has an order, or was given up): returns the id of each order
/// that went in, by checkout; a checkout decided before is absent, and a checkout
/// given twice gets one order. Call with the checkouts locked ([`lock_checkouts`]).
pub async fn create_all(
    conn: &mut PgConnection,
    orders: &[NewOrder<'_>],
) -> sqlx::Result<HashMap<Uuid, Uuid>> {
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let mut lines = OrderLines::default();
    for (&order_id, order) in ids.iter().zip(orders) {
        for (line_no, item) in (1..).zip(order.items) {
            lines.order_ids.push(order_id);
            lines.line_nos.push(line_no);
            lines.skus.push(item.product_sku.to_string());
            lines.quantities.push(item.quantity);
            lines.prices.push(item.unit_price_cents);
        }
    }
    // The lines' insert joins the orders' RETURNING: no order (a conflict), no lines.
    let created: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "WITH asked AS (
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],
                                  $11::uuid[], $12::jsonb[])
                 AS o(id, checkout_id, cart_id, customer_id, total_cents, payment_id, shipping_address)
         ), created AS (
             INSERT INTO orders (id, checkout_id, cart_id, customer_id, status, total_cents,
                                 payment_id, shipping_address)
             SELECT id, checkout_id, cart_id, customer_id, 'confirmed', total_cents, payment_id,
                    shipping_address FROM asked
             WHERE NOT EXISTS
                 (SELECT 1 FROM expired_checkouts e WHERE e.checkout_id = asked.checkout_id)
             ON CONFLICT (checkout_id) DO NOTHING RETURNING id, checkout_id
         ), lines AS (
             INSERT INTO order_items (order_id, line_no, product_sku, quantity, unit_price_cents)
             SELECT l.* FROM UNNEST($6::uuid[], $7::int[], $8::text[], $9::int[], $10::bigint[])
                 AS l(order_id, line_no, sku, quantity, price)
             JOIN created ON created.id = l.order_id
         )
         SELECT checkout_id, id FROM created",
    )
    .bind(&ids)
    .bind(orders.iter().map(|o| o.checkout_id).collect::<Vec<_>>())
    .bind(orders.iter().map(|o| o.cart_id).collect::<Vec<_>>())
    .bind(orders.iter().map(|o| o.customer_id).collect::<Vec<_>>())
    .bind(orders.iter().map(|o| o.total_cents).collect::<Vec<_>>())
    .bind(lines.order_ids)
    .bind(lines.line_nos)
    .bind(lines.skus)
    .bind(lines.quantities)
    .bind(lines.prices)
    .bind(orders.iter().map(|o| o.payment_id).collect::<Vec<_>>())
    .bind(
        orders
            .iter()
            .map(|o| o.shipping_address.map(sqlx::types::Json))
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await?;
    Ok(created.into_iter().collect())
}

/// The lines of several orders, as columns for `UNNEST`.
#[derive(Default)]
struct OrderLines {
    order_ids: Vec<Uuid>,
    line_nos: Vec<i32>,
    skus: Vec<String>,
    quantities: Vec<i32>,
    prices: Vec<i64>,
}

/// Serialises every decision about these checkouts with transaction-scoped advisory
/// locks, taken in one order (so two batches that share checkouts queue rather than
/// deadlock). An order insert and a tombstone insert are in different tables, so no
/// unique index alone could keep them apart.
pub async fn lock_checkouts(conn: &mut PgConnection, checkout_ids: &[Uuid]) -> sqlx::Result<()> {
    let mut keys: Vec<i64> = checkout_ids
        .iter()
        .map(|id| id.as_u64_pair().0 as i64)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    // A function scan returns the array's elements in order: the locks follow it.
    sqlx::query("SELECT pg_advisory_xact_lock(key) FROM unnest($1::bigint[]) AS key")
        .bind(keys)
        .execute(conn)
        .await
        .map(drop)
}

/// What has been decided about a checkout (call with it locked).
pub async fn checkout_record(
    conn: &mut PgConnection,
    checkout_id: Uuid,
) -> sqlx::Result<CheckoutRecord> {
    let row: Option<(Option<Uuid>,)> = sqlx::query_as(
        "SELECT (SELECT id FROM orders WHERE checkout_id = $1)
         WHERE EXISTS (SELECT 1 FROM orders WHERE checkout_id = $1)
            OR EXISTS (SELECT 1 FROM expired_checkouts WHERE checkout_id = $1)",
    )
    .bind(checkout_id)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => CheckoutRecord::Undecided,
        Some((Some(order_id),)) => CheckoutRecord::Ordered(order_id),
        Some((None,)) => CheckoutRecord::Expired,
    })
}

/// What order holds on a checkout while it decides: what was decided, and the answers
/// kept while it is undecided.
#[derive(Debug, Clone, Default)]
pub struct Held {
    pub record: CheckoutRecord,
    /// Inventory reserved every line.
    pub stock_reserved: bool,
    /// Payment holds the total: its event, which the order is made from.
    pub authorized: Option<PaymentAuthorized>,
    /// A row of kept answers exists.
    pub stored: bool,
}

/// What order holds on each of these checkouts (call with them locked), in one
/// statement; one that nothing is known of is undecided with no answer.
pub async fn held(
    conn: &mut PgConnection,
    checkout_ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, Held>> {
    type Row = (
        Uuid,
        Option<Uuid>,
        bool,
        bool,
        bool,
        Option<sqlx::types::Json<PaymentAuthorized>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, o.id, e.checkout_id IS NOT NULL, a.checkout_id IS NOT NULL,
                COALESCE(a.stock_reserved, false), a.authorized
         FROM (SELECT DISTINCT unnest($1::uuid[]) AS id) c
         LEFT JOIN orders o ON o.checkout_id = c.id
         LEFT JOIN expired_checkouts e ON e.checkout_id = c.id
         LEFT JOIN checkout_answers a ON a.checkout_id = c.id",
    )
    .bind(checkout_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, order_id, expired, stored, stock_reserved, authorized)| {
                let record = match (order_id, expired) {
                    (Some(order_id), _) => CheckoutRecord::Ordered(order_id),
                    (None, true) => CheckoutRecord::Expired,
                    (None, false) => CheckoutRecord::Undecided,
                };
                let held = Held {
                    record,
                    stock_reserved,
                    authorized: authorized.map(|a| a.0),
                    stored,
                };
                (id, held)
            },
        )
        .collect())
}

/// Keeps the answers of checkouts that still wait for the other (as given: all their
/// answers so far) and drops those of checkouts now ordered, in one statement (call
/// with the checkouts locked).
pub async fn keep_answers(
    conn: &mut PgConnection,
    waiting: &[(Uuid, &Held)],
    ordered: &[Uuid],
) -> sqlx::Result<()> {
    if waiting.is_empty() && ordered.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH ordered AS (DELETE FROM checkout_answers WHERE checkout_id = ANY($4::uuid[]))
         INSERT INTO checkout_answers (checkout_id, stock_reserved, authorized)
         SELECT * FROM UNNEST($1::uuid[], $2::bool[], $3::jsonb[])
         ON CONFLICT (checkout_id) DO UPDATE
             SET stock_reserved = EXCLUDED.stock_reserved, authorized = EXCLUDED.authorized",
    )
    .bind(waiting.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(
        waiting
            .iter()
            .map(|(_, h)| h.stock_reserved)
            .collect::<Vec<_>>(),
    )
    .bind(
        waiting
            .iter()
            .map(|(_, h)| h.authorized.as_ref().map(sqlx::types::Json))
            .collect::<Vec<_>>(),
    )
    .bind(ordered)
    .execute(conn)
    .await
    .map(drop)
}

/// Records the checkout as given up; an answer it kept waiting goes with it.
pub async fn expire(conn: &mut PgConnection, expired: &CheckoutExpired) -> sqlx::Result<()> {
    sqlx::query(
        "WITH answer AS (DELETE FROM checkout_answers WHERE checkout_id = $1)
         INSERT INTO expired_checkouts (checkout_id, cart_id, customer_id, items)
         VALUES ($1, $2, $3, $4) ON CONFLICT (checkout_id) DO NOTHING",
    )
    .bind(expired.checkout_id)
    .bind(expired.cart_id)
    .bind(expired.customer_id)
    .bind(sqlx::types::Json(&expired.items))
    .execute(conn)
    .await
    .map(drop)
}

/// The `checkout.expired` of a given-up checkout, to announce again.
pub async fn expired(
    conn: &mut PgConnection,
    checkout_id: Uuid,
) -> sqlx::Result<Option<CheckoutExpired>> {
    let row: Option<(Uuid, Uuid, sqlx::types::Json<Vec<LineItem>>)> = sqlx::query_as(
        "SELECT cart_id, customer_id, items FROM expired_checkouts WHERE checkout_id = $1",
    )
    .bind(checkout_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(cart_id, customer_id, items)| CheckoutExpired {
        checkout_id,
        cart_id,
        customer_id,
        items: items.0,
    }))
}

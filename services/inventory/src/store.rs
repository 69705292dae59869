//! SQL for stock and reservations.

use crate::domain::{ReservationStatus, StockItem};
use cartflow_events::{LineItem, Sku};
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use uuid::Uuid;

const COLUMNS: &str = "sku, available, reserved, low_stock_threshold";

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<StockItem>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM stock_items ORDER BY sku"))
        .fetch_all(pool)
        .await
}

pub async fn get(pool: &PgPool, sku: &str) -> sqlx::Result<Option<StockItem>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM stock_items WHERE sku = $1"))
        .bind(sku)
        .fetch_optional(pool)
        .await
}

pub async fn insert(
    pool: &PgPool,
    sku: &str,
    quantity: i32,
    threshold: i32,
) -> sqlx::Result<StockItem> {
    sqlx::query_as(&format!(
        "INSERT INTO stock_items (sku, available, low_stock_threshold) VALUES ($1, $2, $3)
         RETURNING {COLUMNS}"
    ))
    .bind(sku)
    .bind(quantity)
    .bind(threshold)
    .fetch_one(pool)
    .await
}

/// Sets the available units of a row locked by [`lock_levels`].
pub async fn set_available(
    conn: &mut PgConnection,
    sku: &str,
    quantity: i32,
) -> sqlx::Result<StockItem> {
    sqlx::query_as(&format!(
        "UPDATE stock_items SET available = $2, updated_at = now() WHERE sku = $1 RETURNING {COLUMNS}"
    ))
    .bind(sku)
    .bind(quantity)
    .fetch_one(conn)
    .await
}

pub async fn delete(pool: &PgPool, sku: &str) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM stock_items WHERE sku = $1")
        .bind(sku)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() == 1)
}

pub use crate::domain::Level;

/// Locks the rows of `skus` in SKU order and returns their levels. Every writer locks
/// in this order, so concurrent checkouts queue instead of deadlocking.
pub async fn lock_levels(
    conn: &mut PgConnection,
    skus: &[String],
) -> sqlx::Result<BTreeMap<String, Level>> {
    let rows: Vec<(String, i32, i32)> = sqlx::query_as(
        "SELECT sku, available, low_stock_threshold FROM stock_items
         WHERE sku = ANY($1) ORDER BY sku FOR UPDATE",
    )
    .bind(skus)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(sku, available, threshold)| {
            (
                sku,
                Level {
                    available,
                    threshold,
                },
            )
        })
        .collect())
}

/// Moves `delta` units per SKU from available to reserved (negative: back again).
/// The rows must already be locked by [`lock_levels`].
pub async fn shift_to_reserved(
    conn: &mut PgConnection,
    delta: &BTreeMap<Sku, i32>,
) -> sqlx::Result<()> {
    let skus: Vec<&str> = delta.keys().map(Sku::as_str).collect();
    let amounts: Vec<i32> = delta.values().copied().collect();
    sqlx::query(
        "UPDATE stock_items s
         SET available = s.available - d.amount, reserved = s.reserved + d.amount, updated_at = now()
         FROM UNNEST($1::text[], $2::int[]) AS d(sku, amount)
         WHERE s.sku = d.sku",
    )
    .bind(skus)
    .bind(amounts)
    .execute(conn)
    .await
    .map(drop)
}

/// Who and what a checkout decision is about.
pub struct CheckoutLines<'a> {
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub items: &'a [LineItem],
}

/// Records what was decided for a checkout. Returns false, changing nothing, if the
/// checkout already has a decision (a concurrent insert waits for the other's commit).
pub async fn record_decision(
    conn: &mut PgConnection,
    checkout: &CheckoutLines<'_>,
    status: ReservationStatus,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO reservations (checkout_id, cart_id, customer_id, items, status)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (checkout_id) DO NOTHING",
    )
    .bind(checkout.checkout_id)
    .bind(checkout.cart_id)
    .bind(checkout.customer_id)
    .bind(sqlx::types::Json(checkout.items))
    .bind(status.as_str())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records the checkout as reserved and moves `wanted` from available to reserved, in
/// one statement. Returns false, changing nothing, if the checkout already has a
/// decision (as [`record_decision`]). The stock rows must be locked by [`lock_levels`].
pub async fn reserve(
    conn: &mut PgConnection,
    checkout: &CheckoutLines<'_>,
    wanted: &BTreeMap<Sku, i32>,
) -> sqlx::Result<bool> {
    let skus: Vec<&str> = wanted.keys().map(Sku::as_str).collect();
    let amounts: Vec<i32> = wanted.values().copied().collect();
    // Every data-modifying CTE runs; the stock moves only if the decision went in.
    sqlx::query_scalar(
        "WITH decided AS (
             INSERT INTO reservations (checkout_id, cart_id, customer_id, items, status)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (checkout_id) DO NOTHING
             RETURNING checkout_id
         ), moved AS (
             UPDATE stock_items s
             SET available = s.available - d.amount, reserved = s.reserved + d.amount,
                 updated_at = now()
             FROM UNNEST($6::text[], $7::int[]) AS d(sku, amount)
             WHERE s.sku = d.sku AND EXISTS (SELECT 1 FROM decided)
         )
         SELECT EXISTS (SELECT 1 FROM decided)",
    )
    .bind(checkout.checkout_id)
    .bind(checkout.cart_id)
    .bind(checkout.customer_id)
    .bind(sqlx::types::Json(checkout.items))
    .bind(ReservationStatus::Reserved.as_str())
    .bind(skus)
    .bind(amounts)
    .fetch_one(conn)
    .await
}

/// Marks the checkout's reservation released and returns its lines; `None` if there is
/// no active reservation (never reserved, or already released).
pub async fn release_reservation(
    conn: &mut PgConnection,
    checkout_id: Uuid,
) -> sqlx::Result<Option<Vec<LineItem>>> {
    let items: Option<sqlx::types::Json<Vec<LineItem>>> = sqlx::query_scalar(
        "UPDATE reservations SET status = 'released', released_at = now()
         WHERE checkout_id = $1 AND status = 'reserved' RETURNING items",
    )
    .bind(checkout_id)
    .fetch_optional(conn)
    .await?;
    Ok(items.map(|json| json.0))
}

/// The levels of `skus` and what was decided for the checkout, with one statement. The
/// rows must be locked by [`lock_levels`] in an earlier statement: a statement sees the
/// database as of its start, so one that waited for the lock itself could miss a
/// decision committed while it waited.
pub async fn levels_and_decision(
    conn: &mut PgConnection,
    skus: &[String],
    checkout_id: Uuid,
) -> sqlx::Result<(
    BTreeMap<String, Level>,
    Option<(ReservationStatus, Vec<LineItem>)>,
)> {
    // One row per SKU, or one row of NULL levels when none is stocked; the decision is
    // on every row.
    type Row = (
        Option<String>,
        Option<i32>,
        Option<i32>,
        Option<String>,
        Option<sqlx::types::Json<Vec<LineItem>>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.sku, s.available, s.low_stock_threshold, r.status, r.items
         FROM (VALUES (true)) AS one(x)
         LEFT JOIN stock_items s ON s.sku = ANY($1)
         LEFT JOIN reservations r ON r.checkout_id = $2",
    )
    .bind(skus)
    .bind(checkout_id)
    .fetch_all(conn)
    .await?;
    let mut levels = BTreeMap::new();
    let mut decision = None;
    for (sku, available, threshold, status, items) in rows {
        if let (Some(sku), Some(available), Some(threshold)) = (sku, available, threshold) {
            levels.insert(
                sku,
                Level {
                    available,
                    threshold,
                },
            );
        }
        if let (None, Some(status), Some(items)) = (&decision, status, items) {
            decision = Some((parse_status(&status)?, items.0));
        }
    }
    Ok((levels, decision))
}

fn parse_status(status: &str) -> sqlx::Result<ReservationStatus> {
    ReservationStatus::parse(status)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown reservation status {status}").into()))
}

//! SQL for stock and reservations.

use crate::domain::{Decided, ReservationStatus, StockItem};
use cartflow_events::{LineItem, Sku};
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

const COLUMNS: &str = "sku, available, reserved, low_stock_threshold";

/// A `stock_items` row as read ([`COLUMNS`]): the domain's `StockItem` stays free of the
/// database's traits.
type StockRow = (String, i32, i32, i32);

fn stock_item((sku, quantity, reserved, low_stock_threshold): StockRow) -> StockItem {
    StockItem {
        sku,
        quantity,
        reserved,
        low_stock_threshold,
    }
}

/// Up to `limit` stock items by SKU, after `after` when given (a page of the list).
pub async fn list(pool: &PgPool, after: Option<&str>, limit: i64) -> sqlx::Result<Vec<StockItem>> {
    let rows: Vec<StockRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM stock_items WHERE $1::text IS NULL OR sku > $1
         ORDER BY sku LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(stock_item).collect())
}

pub async fn get(pool: &PgPool, sku: &str) -> sqlx::Result<Option<StockItem>> {
    let row: Option<StockRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM stock_items WHERE sku = $1"))
            .bind(sku)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(stock_item))
}

pub async fn insert(
    pool: &PgPool,
    sku: &str,
    quantity: i32,
    threshold: i32,
) -> sqlx::Result<StockItem> {
    let row: StockRow = sqlx::query_as(&format!(
        "INSERT INTO stock_items (sku, available, low_stock_threshold) VALUES ($1, $2, $3)
         RETURNING {COLUMNS}"
    ))
    .bind(sku)
    .bind(quantity)
    .bind(threshold)
    .fetch_one(pool)
    .await?;
    Ok(stock_item(row))
}

/// Sets the available units of a row locked by [`lock_levels`].
pub async fn set_available(
    conn: &mut PgConnection,
    sku: &str,
    quantity: i32,
) -> sqlx::Result<StockItem> {
    let row: StockRow = sqlx::query_as(&format!(
        "UPDATE stock_items SET available = $2, updated_at = now() WHERE sku = $1 RETURNING {COLUMNS}"
    ))
    .bind(sku)
    .bind(quantity)
    .fetch_one(conn)
    .await?;
    Ok(stock_item(row))
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

/// A decision taken for a checkout's request: rejected, or reserved with the units it
/// moves from available to reserved.
pub struct Decision<'a> {
    pub checkout: CheckoutLines<'a>,
    pub status: ReservationStatus,
    /// Units per SKU, for a reservation.
    pub reserving: Option<&'a BTreeMap<Sku, i32>>,
}

/// Records `decisions` and moves the units of each reservation that went in, in one
/// statement. Returns the checkouts whose decision went in; one already decided keeps
/// its decision, and its units do not move (a concurrent insert waits for the other's
/// commit). The stock rows of the reservations must be locked by [`lock_levels`].
pub async fn record_decisions(
    conn: &mut PgConnection,
    decisions: &[Decision<'_>],
) -> sqlx::Result<HashSet<Uuid>> {
    let mut rows = DecisionRows::default();
    for decision in decisions {
        let checkout = &decision.checkout;
        rows.checkout_ids.push(checkout.checkout_id);
        rows.cart_ids.push(checkout.cart_id);
        rows.customer_ids.push(checkout.customer_id);
        rows.items.push(sqlx::types::Json(checkout.items));
        rows.statuses.push(decision.status.as_str());
        for (sku, &units) in decision.reserving.into_iter().flatten() {
            rows.moves.checkout_ids.push(checkout.checkout_id);
            rows.moves.skus.push(sku.as_str());
            rows.moves.units.push(units);
        }
    }
    // Every data-modifying CTE runs; units move only for the reservations that went in.
    // Decisions go in in checkout order, so batches racing over the same checkouts
    // (only possible where no stock row was locked) meet them in the same order.
    sqlx::query_scalar(
        "WITH decided AS (
             INSERT INTO reservations (checkout_id, cart_id, customer_id, items, status)
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::jsonb[], $5::text[])
                 AS d(checkout_id, cart_id, customer_id, items, status)
             ORDER BY checkout_id
             ON CONFLICT (checkout_id) DO NOTHING
             RETURNING checkout_id
         ), moved AS (
             UPDATE stock_items s
             SET available = s.available - m.units, reserved = s.reserved + m.units,
                 updated_at = now()
             FROM (SELECT w.sku, sum(w.units)::int AS units
                   FROM UNNEST($6::uuid[], $7::text[], $8::int[]) AS w(checkout_id, sku, units)
                   JOIN decided USING (checkout_id)
                   GROUP BY w.sku) AS m
             WHERE s.sku = m.sku
         )
         SELECT checkout_id FROM decided",
    )
    .bind(rows.checkout_ids)
    .bind(rows.cart_ids)
    .bind(rows.customer_ids)
    .bind(rows.items)
    .bind(rows.statuses)
    .bind(rows.moves.checkout_ids)
    .bind(rows.moves.skus)
    .bind(rows.moves.units)
    .fetch_all(conn)
    .await
    .map(|ids: Vec<Uuid>| ids.into_iter().collect())
}

/// [`Decision`]s as columns for `UNNEST`, and the units each reservation moves, one row
/// per checkout and SKU.
#[derive(Default)]
struct DecisionRows<'a> {
    checkout_ids: Vec<Uuid>,
    cart_ids: Vec<Uuid>,
    customer_ids: Vec<Uuid>,
    items: Vec<sqlx::types::Json<&'a [LineItem]>>,
    statuses: Vec<&'static str>,
    moves: Moves<'a>,
}

/// The units a reservation moves, one row per checkout and SKU.
#[derive(Default)]
struct Moves<'a> {
    checkout_ids: Vec<Uuid>,
    skus: Vec<&'a str>,
    units: Vec<i32>,
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

/// The levels of `skus` and what was decided for each of `checkouts` that has a
/// decision, with one statement. The rows must be locked by [`lock_levels`] in an
/// earlier statement: a statement sees the database as of its start, so one that
/// waited for the lock itself could miss a decision committed while it waited.
pub async fn levels_and_decisions(
    conn: &mut PgConnection,
    skus: &[String],
    checkouts: &[Uuid],
) -> sqlx::Result<(BTreeMap<String, Level>, HashMap<Uuid, Decided>)> {
    // A row per stocked SKU (levels set) and a row per decided checkout (decision set),
    // in no particular order.
    type Row = (
        Option<String>,
        Option<i32>,
        Option<i32>,
        Option<Uuid>,
        Option<String>,
        Option<sqlx::types::Json<Vec<LineItem>>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT sku, available, low_stock_threshold, NULL::uuid, NULL::text, NULL::jsonb
         FROM stock_items WHERE sku = ANY($1)
         UNION ALL
         SELECT NULL, NULL, NULL, checkout_id, status, items
         FROM reservations WHERE checkout_id = ANY($2)",
    )
    .bind(skus)
    .bind(checkouts)
    .fetch_all(conn)
    .await?;
    let mut levels = BTreeMap::new();
    let mut decided = HashMap::new();
    for row in rows {
        match row {
            (Some(sku), Some(available), Some(threshold), ..) => {
                levels.insert(
                    sku,
                    Level {
                        available,
                        threshold,
                    },
                );
            }
            (.., Some(checkout_id), Some(status), Some(items)) => {
                decided.insert(checkout_id, (parse_status(&status)?, items.0));
            }
            _ => {
                return Err(sqlx::Error::Decode(
                    "a row of neither levels nor decision".into(),
                ));
            }
        }
    }
    Ok((levels, decided))
}

fn parse_status(status: &str) -> sqlx::Result<ReservationStatus> {
    ReservationStatus::parse(status)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown reservation status {status}").into()))
}

//! SQL for carts and their lines: reading a cart whole, and locking it.
//!
//! Adding and removing lines is in `lines.rs`; checkouts (begin, end, the watchdog's
//! overdue ones) are in `checkout.rs`.

use crate::domain::{Cart, CartLine, CartStatus, Rejection};
use cartflow_events::{LineItem, Sku, total_cents};
use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

fn status_of(raw: &str) -> sqlx::Result<CartStatus> {
    CartStatus::parse(raw)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown cart status {raw}").into()))
}

/// What [`cart_from_rows`] reads: the cart `c`, its line `i` and the line's catalog
/// entry `p`. A macro, so the queries that use it stay `concat!`-ed literals.
macro_rules! cart_columns {
    () => {
        "c.id, c.customer_id, c.status, c.order_id, c.rejection,
         c.checkout_id, c.checkout_expires_at,
         i.product_sku, i.quantity, i.unit_price_cents, p.price_cents AS current_price_cents"
    };
}

/// The cart's columns and its lines, in one statement: one row per line (or one row of
/// NULL line columns for an empty cart); callers order the lines as they were added.
macro_rules! cart_with_lines {
    () => {
        concat!(
            "SELECT ",
            cart_columns!(),
            " FROM carts c LEFT JOIN cart_items i ON i.cart_id = c.id",
            " LEFT JOIN catalog p ON p.sku = i.product_sku"
        )
    };
}

// Declared after the macros above, which `lines` uses.
mod checkout;
mod lines;

pub use checkout::{
    Checkout, CheckoutPayment, Ended, Guard, Overdue, Started, begin_checkout, checkout_payment,
    checkout_resent, lock_overdue, mark_converted, mark_expired, mark_rejected, pending_count,
};
pub use lines::{Added, add_line_at_once, add_to_line, remove_line};

/// Builds the cart from `cart_with_lines!`' rows; `None` for no rows.
fn cart_from_rows(rows: Vec<sqlx::postgres::PgRow>) -> sqlx::Result<Option<Cart>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let snapshots = lines_from_rows(&rows)?;
    let total_cents = total_cents(&snapshots);
    let with_lines = rows.iter().filter(|r| {
        r.try_get::<Option<String>, _>("product_sku")
            .ok()
            .flatten()
            .is_some()
    });
    let mut items = Vec::with_capacity(snapshots.len());
    for (item, row) in snapshots.into_iter().zip(with_lines) {
        let current: Option<i64> = row.try_get("current_price_cents")?;
        items.push(CartLine {
            current_unit_price_cents: current.filter(|&price| price != item.unit_price_cents),
            item,
        });
    }
    Ok(Some(Cart {
        id: first.try_get("id")?,
        customer_id: first.try_get("customer_id")?,
        status: status_of(first.try_get("status")?)?,
        total_cents,
        items,
        order_id: first.try_get("order_id")?,
        checkout_id: first.try_get("checkout_id")?,
        checkout_expires_at: first.try_get("checkout_expires_at")?,
        rejection: first
            .try_get::<Option<sqlx::types::Json<Rejection>>, _>("rejection")?
            .map(|j| j.0),
    }))
}

/// The lines of rows that carry `product_sku`, `quantity` and `unit_price_cents`
/// (NULL for a cart without lines, from a `LEFT JOIN`).
fn lines_from_rows(rows: &[sqlx::postgres::PgRow]) -> sqlx::Result<Vec<LineItem>> {
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(sku) = r.try_get::<Option<String>, _>("product_sku")? else {
            continue;
        };
        items.push(LineItem {
            product_sku: Sku::parse(&sku).map_err(|e| sqlx::Error::Decode(e.into()))?,
            quantity: r.try_get("quantity")?,
            unit_price_cents: r.try_get("unit_price_cents")?,
        });
    }
    Ok(items)
}

/// The whole cart, lines and total included.
pub async fn load(conn: &mut PgConnection, cart_id: Uuid) -> sqlx::Result<Cart> {
    let rows = sqlx::query(concat!(
        cart_with_lines!(),
        " WHERE c.id = $1 ORDER BY i.added_at, i.product_sku"
    ))
    .bind(cart_id)
    .fetch_all(conn)
    .await?;
    cart_from_rows(rows)?.ok_or(sqlx::Error::RowNotFound)
}

/// The customer's most recent cart, whatever its status.
pub async fn latest_id<'e>(
    db: impl PgExecutor<'e>,
    customer_id: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM carts WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(customer_id)
    .fetch_optional(db)
    .await
}

/// Locks the customer's active (not converted) cart.
///
/// Cart's locks are taken by writing the cart's row, not with `FOR UPDATE`: whoever
/// locks a cart is about to change it or its lines, and a change must move the row's
/// version, which [`add_line_at_once`] and [`Guard::Unchanged`] rely on. (A refusal
/// rolls the write back with the rest.)
pub async fn lock_active(
    conn: &mut PgConnection,
    customer_id: Uuid,
) -> sqlx::Result<Option<(Uuid, CartStatus)>> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "UPDATE carts SET updated_at = now() WHERE customer_id = $1 AND status <> $2
         RETURNING id, status",
    )
    .bind(customer_id)
    .bind(CartStatus::Converted.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(|(id, s)| Ok((id, status_of(&s)?))).transpose()
}

/// Locks the customer's active cart (by writing its row, as [`lock_active`]), creating
/// an open one if there is none, in one statement. Two concurrent first adds meet on the
/// partial unique index: the loser's insert does nothing, and it locks the winner's cart
/// with a second statement.
pub async fn lock_or_create_active(
    conn: &mut PgConnection,
    customer_id: Uuid,
) -> sqlx::Result<(Uuid, CartStatus)> {
    // The conflict target repeats the partial index's predicate (its migration), which
    // must be written out, not bound.
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "WITH active AS (
             UPDATE carts SET updated_at = now()
             WHERE customer_id = $1 AND status <> 'converted'
             RETURNING id, status
         ), created AS (
             INSERT INTO carts (id, customer_id, status)
             SELECT $2, $1, $3 WHERE NOT EXISTS (SELECT 1 FROM active)
             ON CONFLICT (customer_id) WHERE status <> 'converted' DO NOTHING
             RETURNING id, status
         )
         SELECT id, status FROM active UNION ALL SELECT id, status FROM created",
    )
    .bind(customer_id)
    .bind(Uuid::new_v4())
    .bind(CartStatus::Open.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let row = match row {
        Some((id, status)) => Some((id, status_of(&status)?)),
        None => lock_active(conn, customer_id).await?,
    };
    row.ok_or_else(|| sqlx::Error::Protocol("active cart vanished inside its transaction".into()))
}

/// Sets a status chosen by the customer (open again, or checkout_pending); clears any
/// previous rejection.
pub async fn set_status(
    conn: &mut PgConnection,
    cart_id: Uuid,
    status: CartStatus,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE carts SET status = $2, rejection = NULL, updated_at = now() WHERE id = $1")
        .bind(cart_id)
        .bind(status.as_str())
        .execute(conn)
        .await
        .map(drop)
}

//! SQL that adds and removes a cart's lines: the one-statement fast path, and the
//! locked path that also says why an add is refused.

use super::cart_from_rows;
use crate::domain::{Cart, CartStatus};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// Adds `quantity` to the line (creating it, and the cart if the customer has none) in
/// one statement without a transaction, and reads the cart back whole; `None` if it
/// could not, and then nothing changed. It cannot when another writer changed the cart
/// while this statement waited for it, or lost a race to create it; and it leaves alone
/// what is not plain (a cart that is not `open`, a full line, a line that would not
/// fit). The caller then takes the locking path ([`lock_or_create_active`],
/// [`add_to_line`]), which also says why a request is refused.
///
/// Why it is safe: a statement reads the database as of its start, but its `UPDATE`
/// re-checks the row it waited for at its newest version. Whoever changes a cart or its
/// lines writes the cart's row first (this statement, [`lock_active`],
/// [`lock_or_create_active`], and every status change), so a row still carrying the
/// `xmin` this statement first saw means nobody changed the cart since, and the lines
/// read here are its lines now. A row that moved matches nothing.
///
/// [`lock_or_create_active`]: super::lock_or_create_active
/// [`lock_active`]: super::lock_active
pub async fn add_line_at_once(
    conn: &mut PgConnection,
    customer_id: Uuid,
    sku: &str,
    quantity: i32,
    unit_price_cents: Option<i64>,
    max_lines: usize,
    max_quantity: i32,
) -> sqlx::Result<Option<Cart>> {
    // Without a price given, the line takes the cart's catalog copy's price for an
    // active SKU, read in this same statement; a SKU the copy does not have on sale
    // changes nothing (the caller prices it the slow way).
    // The conflict target repeats the partial index's predicate (its migration), which
    // must be written out, not bound. The rest of a statement does not see what its
    // data-modifying CTEs wrote, so the cart comes from their `RETURNING` and the lines
    // are the cart's others plus the one the upsert returns.
    let rows = sqlx::query(concat!(
        "WITH priced AS (
             SELECT COALESCE($6::bigint,
                             (SELECT price_cents FROM catalog WHERE sku = $4 AND active)) AS price
         ), seen AS (
             SELECT id, xmin AS version FROM carts
             WHERE customer_id = $1 AND status <> 'converted'
               AND (SELECT price FROM priced) IS NOT NULL
         ), created AS (
             INSERT INTO carts (id, customer_id, status)
             SELECT $2, $1, $3 WHERE NOT EXISTS (SELECT 1 FROM seen)
               AND (SELECT price FROM priced) IS NOT NULL
             ON CONFLICT (customer_id) WHERE status <> 'converted' DO NOTHING
             RETURNING id, customer_id, status, order_id, rejection, checkout_id, checkout_expires_at
         ), touched AS (
             UPDATE carts c SET updated_at = now()
             FROM seen
             WHERE c.id = seen.id AND c.xmin = seen.version AND c.status = $3
               AND (EXISTS (SELECT 1 FROM cart_items WHERE cart_id = seen.id AND product_sku = $4)
                    OR (SELECT count(*) FROM cart_items WHERE cart_id = seen.id) < $7)
               AND COALESCE((SELECT quantity FROM cart_items
                             WHERE cart_id = seen.id AND product_sku = $4), 0) + $5 <= $8
             RETURNING c.id, c.customer_id, c.status, c.order_id, c.rejection,
                       c.checkout_id, c.checkout_expires_at
         ), c AS (
             SELECT * FROM created UNION ALL SELECT * FROM touched
         ), added AS (
             INSERT INTO cart_items (cart_id, product_sku, quantity, unit_price_cents)
             SELECT id, $4, $5, (SELECT price FROM priced) FROM c
             ON CONFLICT (cart_id, product_sku) DO UPDATE
             SET quantity = cart_items.quantity + EXCLUDED.quantity
             WHERE cart_items.quantity + EXCLUDED.quantity <= $8
             RETURNING product_sku, quantity, unit_price_cents, added_at
         ), i AS (
             SELECT product_sku, quantity, unit_price_cents, added_at FROM cart_items
             WHERE cart_id = (SELECT id FROM c) AND product_sku <> $4
             UNION ALL
             SELECT product_sku, quantity, unit_price_cents, added_at FROM added
         )
         SELECT ",
        cart_columns!(),
        ", EXISTS (SELECT 1 FROM added) AS added
         FROM c LEFT JOIN i ON true LEFT JOIN catalog p ON p.sku = i.product_sku
         ORDER BY i.added_at, i.product_sku"
    ))
    .bind(customer_id)
    .bind(Uuid::new_v4())
    .bind(CartStatus::Open.as_str())
    .bind(sku)
    .bind(quantity)
    .bind(unit_price_cents)
    .bind(i64::try_from(max_lines).unwrap_or(i64::MAX))
    .bind(max_quantity)
    .fetch_all(conn)
    .await?;
    match rows.first() {
        Some(row) if row.try_get::<bool, _>("added")? => cart_from_rows(rows),
        _ => Ok(None),
    }
}

/// What adding to a line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A line for the SKU was created.
    NewLine,
    /// More of a line the cart had.
    MoreOfLine,
    /// Nothing: the line would exceed the maximum quantity.
    LineFull,
}

/// Adds `quantity` to the line (creating it at `unit_price_cents`: a line keeps the
/// price it was added at), unless the line would exceed `max_quantity`, and reads the
/// cart back whole, in one statement. The cart must be locked ([`lock_or_create_active`]): no other writer changes its
/// lines under this statement's snapshot. After [`Added::LineFull`] the cart read back
/// lacks that line (the caller refuses the request anyway).
///
/// [`lock_or_create_active`]: super::lock_or_create_active
pub async fn add_to_line(
    conn: &mut PgConnection,
    cart_id: Uuid,
    sku: &str,
    quantity: i32,
    unit_price_cents: i64,
    max_quantity: i32,
) -> sqlx::Result<(Added, Cart)> {
    // The rest of a statement does not see what its data-modifying CTE wrote, so the
    // lines are the cart's others plus the one the upsert returns. `xmax = 0` only for
    // a freshly inserted row.
    let rows = sqlx::query(concat!(
        "WITH added AS (
             INSERT INTO cart_items (cart_id, product_sku, quantity, unit_price_cents)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (cart_id, product_sku) DO UPDATE
             SET quantity = cart_items.quantity + EXCLUDED.quantity
             WHERE cart_items.quantity + EXCLUDED.quantity <= $5
             RETURNING product_sku, quantity, unit_price_cents, added_at, (xmax = 0) AS created
         ), i AS (
             SELECT product_sku, quantity, unit_price_cents, added_at FROM cart_items
             WHERE cart_id = $1 AND product_sku <> $2
             UNION ALL
             SELECT product_sku, quantity, unit_price_cents, added_at FROM added
         )
         SELECT ",
        cart_columns!(),
        ", (SELECT created FROM added) AS created
         FROM carts c LEFT JOIN i ON true LEFT JOIN catalog p ON p.sku = i.product_sku
         WHERE c.id = $1
         ORDER BY i.added_at, i.product_sku"
    ))
    .bind(cart_id)
    .bind(sku)
    .bind(quantity)
    .bind(unit_price_cents)
    .bind(max_quantity)
    .fetch_all(conn)
    .await?;
    let created: Option<bool> = match rows.first() {
        Some(row) => row.try_get("created")?,
        None => None,
    };
    let cart = cart_from_rows(rows)?.ok_or(sqlx::Error::RowNotFound)?;
    let added = match created {
        Some(true) => Added::NewLine,
        Some(false) => Added::MoreOfLine,
        None => Added::LineFull,
    };
    Ok((added, cart))
}

/// Removes the line from the cart, which the caller has locked ([`lock_active`]). False
/// if the cart had no such line.
///
/// [`lock_active`]: super::lock_active
pub async fn remove_line(conn: &mut PgConnection, cart_id: Uuid, sku: &str) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND product_sku = $2")
        .bind(cart_id)
        .bind(sku)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

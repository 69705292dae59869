//! SQL for carts and their lines.

use crate::domain::{Cart, CartLine, CartStatus, CheckoutEnd, Rejection};
use cartflow_events::{LineItem, ShippingAddress, Sku, total_cents};
use chrono::{DateTime, Utc};
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
             SET quantity = cart_items.quantity + EXCLUDED.quantity,
                 unit_price_cents = EXCLUDED.unit_price_cents
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

/// Adds `quantity` to the line (creating it), refreshing its price snapshot, unless the
/// line would exceed `max_quantity`, and reads the cart back whole, in one statement.
/// The cart must be locked ([`lock_or_create_active`]): no other writer changes its
/// lines under this statement's snapshot. After [`Added::LineFull`] the cart read back
/// lacks that line (the caller refuses the request anyway).
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
             SET quantity = cart_items.quantity + EXCLUDED.quantity,
                 unit_price_cents = EXCLUDED.unit_price_cents
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
pub async fn remove_line(conn: &mut PgConnection, cart_id: Uuid, sku: &str) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND product_sku = $2")
        .bind(cart_id)
        .bind(sku)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
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

/// A checkout's end was recorded; its convert time, when known (older carts have none).
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    pub started_at: Option<DateTime<Utc>>,
}

/// checkout_pending → stock_unavailable or payment_declined (`how`), for the pending
/// checkout (or, for a rejection from before checkout ids, whichever is pending).
/// `None` if that checkout is not pending (a late or repeated answer), in which case
/// nothing changes.
pub async fn mark_rejected(
    conn: &mut PgConnection,
    cart_id: Uuid,
    checkout_id: Option<Uuid>,
    rejection: &Rejection,
    how: CheckoutEnd,
) -> sqlx::Result<Option<Ended>> {
    let started_at = sqlx::query_scalar(
        "UPDATE carts SET status = $4, rejection = $2, updated_at = now()
         WHERE id = $1 AND status = $5 AND ($3::uuid IS NULL OR checkout_id = $3)
         RETURNING checkout_started_at",
    )
    .bind(cart_id)
    .bind(sqlx::types::Json(rejection))
    .bind(checkout_id)
    .bind(how.to().as_str())
    .bind(CartStatus::CheckoutPending.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(started_at.map(|started_at| Ended { started_at }))
}

/// checkout_pending → checkout_expired, for that checkout only. `None` if it is not the
/// pending checkout (a repeated announcement).
pub async fn mark_expired(
    conn: &mut PgConnection,
    cart_id: Uuid,
    checkout_id: Uuid,
) -> sqlx::Result<Option<Ended>> {
    let started_at = sqlx::query_scalar(
        "UPDATE carts SET status = $3, updated_at = now()
         WHERE id = $1 AND status = $4 AND checkout_id = $2 RETURNING checkout_started_at",
    )
    .bind(cart_id)
    .bind(checkout_id)
    .bind(CheckoutEnd::Expired.to().as_str())
    .bind(CartStatus::CheckoutPending.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(started_at.map(|started_at| Ended { started_at }))
}

/// Any state → converted with its order id, for every `(cart, order)` with one
/// statement: the order exists, so this wins over whatever the cart thought. Returns
/// the carts converted now, each with its checkout's start; a cart converted before,
/// or named again, is left out.
pub async fn mark_converted(
    conn: &mut PgConnection,
    orders: &[(Uuid, Uuid)],
) -> sqlx::Result<Vec<(Uuid, Ended)>> {
    let mut seen = std::collections::HashSet::new();
    let mut firsts: Vec<(Uuid, Uuid)> = orders
        .iter()
        .copied()
        .filter(|(cart, _)| seen.insert(*cart))
        .collect();
    // Rows locked in one order, so concurrent batches queue rather than deadlock.
    firsts.sort_unstable();
    let (carts, order_ids): (Vec<Uuid>, Vec<Uuid>) = firsts.into_iter().unzip();
    let converted: Vec<(Uuid, Option<DateTime<Utc>>)> = sqlx::query_as(
        "UPDATE carts c SET status = $3, order_id = o.order_id, rejection = NULL, updated_at = now()
         FROM UNNEST($1::uuid[], $2::uuid[]) AS o(cart_id, order_id)
         WHERE c.id = o.cart_id AND c.status <> $3
         RETURNING c.id, c.checkout_started_at",
    )
    .bind(carts)
    .bind(order_ids)
    .bind(CheckoutEnd::Ordered.to().as_str())
    .fetch_all(conn)
    .await?;
    Ok(converted
        .into_iter()
        .map(|(cart, started_at)| (cart, Ended { started_at }))
        .collect())
}

/// How many checkouts are pending now. The literal status matches the partial index
/// `carts_pending_since` (a bound parameter would keep a generic plan off it).
pub async fn pending_count(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM carts WHERE status = 'checkout_pending'")
        .fetch_one(conn)
        .await
}

/// A checkout that has started.
#[derive(Debug, Clone, Copy)]
pub struct Checkout {
    pub checkout_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// A checkout that has started, on which cart, from which status.
#[derive(Debug, Clone)]
pub struct Started {
    pub cart_id: Uuid,
    /// The cart's status before this start: the caller checks it may convert.
    pub status_before: CartStatus,
    pub checkout: Checkout,
    /// The lines the checkout asks for.
    pub items: Vec<LineItem>,
}

/// How [`begin_checkout`] knows the lines it reads are the cart's lines now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// The caller locked this cart ([`lock_active`]) before this statement began, so
    /// nobody changes it under the statement's snapshot.
    Locked(Uuid),
    /// Nobody changed the cart since this statement began (its row's `xmin`, as in
    /// [`add_line_at_once`]); if somebody did, nothing starts.
    Unchanged,
}

/// Starts a new checkout attempt on the customer's active cart: pending, first request
/// now, given up after `expire_after`. Returns the lines the checkout asks for, read by
/// this statement. `None` if there is no active cart or, [`Guard::Unchanged`], it
/// changed meanwhile.
///
/// The lines must be read by a statement that began after the lock, or that knows no
/// writer got in since it began: a statement sees the database as of its start, so one
/// that waited for an add-line's transaction, not knowing, would miss the added line.
pub async fn begin_checkout(
    conn: &mut PgConnection,
    customer_id: Uuid,
    expire_after: std::time::Duration,
    payment: &CheckoutPayment,
    guard: Guard,
) -> sqlx::Result<Option<Started>> {
    let checkout_id = Uuid::new_v4();
    let rows = sqlx::query(
        "WITH seen AS (
             SELECT id, status, xmin AS version FROM carts
             WHERE customer_id = $1 AND status <> 'converted' AND ($5::uuid IS NULL OR id = $5)
         ), started AS (
             UPDATE carts c SET status = $4, rejection = NULL, updated_at = now(),
                    checkout_id = $2, checkout_expires_at = now() + $3,
                    checkout_requested_at = now(), checkout_requests = 1,
                    checkout_started_at = now(), checkout_payment_method = $6,
                    checkout_shipping_address = $7
             FROM seen
             WHERE c.id = seen.id AND ($5::uuid IS NOT NULL OR c.xmin = seen.version)
             RETURNING c.id, seen.status AS status_before, c.checkout_expires_at
         )
         SELECT s.id, s.status_before, s.checkout_expires_at, i.product_sku, i.quantity, i.unit_price_cents
         FROM started s LEFT JOIN cart_items i ON i.cart_id = s.id
         ORDER BY i.added_at, i.product_sku",
    )
    .bind(customer_id)
    .bind(checkout_id)
    .bind(expire_after)
    .bind(CartStatus::CheckoutPending.as_str())
    .bind(match guard {
        Guard::Locked(cart_id) => Some(cart_id),
        Guard::Unchanged => None,
    })
    .bind(&payment.payment_method)
    .bind(sqlx::types::Json(&payment.shipping_address))
    .fetch_all(conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(Started {
        cart_id: first.try_get("id")?,
        status_before: status_of(first.try_get("status_before")?)?,
        checkout: Checkout {
            checkout_id,
            expires_at: first.try_get("checkout_expires_at")?,
        },
        items: lines_from_rows(&rows)?,
    }))
}

/// How a checkout pays and where its order goes: the provider's token (never card
/// data) and the address, kept for the checkout so a request sent again carries them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckoutPayment {
    pub payment_method: String,
    pub shipping_address: ShippingAddress,
}

/// The pending checkout's payment method and address (none for a checkout begun
/// before payment existed).
pub async fn checkout_payment(
    conn: &mut PgConnection,
    cart_id: Uuid,
) -> sqlx::Result<(Option<String>, Option<ShippingAddress>)> {
    let (method, address): (Option<String>, Option<sqlx::types::Json<ShippingAddress>>) =
        sqlx::query_as(
            "SELECT checkout_payment_method, checkout_shipping_address FROM carts WHERE id = $1",
        )
        .bind(cart_id)
        .fetch_one(conn)
        .await?;
    Ok((method, address.map(|a| a.0)))
}

/// A pending checkout the watchdog must act on.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Overdue {
    #[sqlx(rename = "id")]
    pub cart_id: Uuid,
    pub checkout_id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// Past its expiry: ask to give it up rather than request it again.
    pub expired: bool,
}

/// Locks pending checkouts whose last request is older than `deadline`, and those
/// that just passed their expiry (last request sent before it).
pub async fn lock_overdue(
    conn: &mut PgConnection,
    deadline: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<Overdue>> {
    // The status is written into the text, not bound: only a literal lets the planner
    // use the partial indexes on pending carts (`WHERE status = 'checkout_pending'`).
    sqlx::query_as(&format!(
        "SELECT id, COALESCE(checkout_id, id) AS checkout_id,
                COALESCE(checkout_expires_at, now()) AS expires_at,
                COALESCE(checkout_expires_at <= now(), true) AS expired
         FROM carts
         WHERE status = '{}'
           AND (checkout_requested_at < now() - $1
                OR (checkout_expires_at <= now() AND checkout_requested_at < checkout_expires_at))
         ORDER BY checkout_requested_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        CartStatus::CheckoutPending.as_str()
    ))
    .bind(deadline)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records that a request (or an expiry request) was sent again.
pub async fn checkout_resent(conn: &mut PgConnection, cart_id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "UPDATE carts SET checkout_requested_at = now(), checkout_requests = checkout_requests + 1
         WHERE id = $1 RETURNING checkout_requests",
    )
    .bind(cart_id)
    .fetch_one(conn)
    .await
}

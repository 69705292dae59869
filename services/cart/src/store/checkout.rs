//! SQL for checkouts: beginning one on the customer's active cart, its payment details,
//! its ends (rejected, expired, converted), and the watchdog's overdue checkouts.

use super::{lines_from_rows, status_of};
use crate::domain::{CartStatus, CheckoutEnd, Rejection};
use cartflow_events::{LineItem, OrderRequested, ShippingAddress};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

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

impl Checkout {
    /// The request for this checkout's stock and payment: sent by the convert, and
    /// again by the watchdog while nobody answers.
    pub fn request(
        &self,
        cart_id: Uuid,
        customer_id: Uuid,
        items: Vec<LineItem>,
        payment_method: Option<String>,
        shipping_address: Option<ShippingAddress>,
    ) -> OrderRequested {
        OrderRequested {
            cart_id,
            checkout_id: Some(self.checkout_id),
            expires_at: Some(self.expires_at),
            customer_id,
            items,
            payment_method,
            shipping_address,
        }
    }
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
    ///
    /// [`lock_active`]: super::lock_active
    Locked(Uuid),
    /// Nobody changed the cart since this statement began (its row's `xmin`, as in
    /// [`add_line_at_once`]); if somebody did, nothing starts.
    ///
    /// [`add_line_at_once`]: super::add_line_at_once
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

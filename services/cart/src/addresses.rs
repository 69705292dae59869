//! The cart's copy of each customer's saved address (SPEC, "Payment": a checkout that
//! names no address ships to the customer's saved one). It comes as events
//! (`customer.created`, `customer.updated`), like the catalog, so a checkout reads it
//! with one primary-key read and never calls the customer service.

use cartflow_events::{CustomerDetails, ShippingAddress};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The customer's saved address, if the copy holds one.
pub async fn saved(pool: &PgPool, customer: Uuid) -> sqlx::Result<Option<ShippingAddress>> {
    let found: Option<Option<Json<ShippingAddress>>> =
        sqlx::query_scalar("SELECT address FROM saved_addresses WHERE customer_id = $1")
            .bind(customer)
            .fetch_optional(pool)
            .await?;
    Ok(found.flatten().map(|Json(address)| address))
}

/// Keeps the customer's address as `details` (the whole record, as of `as_of`) has it,
/// unless the copy already holds a newer one or the customer is deleted. Whether it
/// was kept.
pub async fn remember(
    conn: &mut PgConnection,
    details: &CustomerDetails,
    as_of: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let kept = sqlx::query(
        "INSERT INTO saved_addresses (customer_id, address, as_of)
         SELECT $1, $2, $3
         WHERE NOT EXISTS (SELECT 1 FROM deleted_customers WHERE customer_id = $1)
         ON CONFLICT (customer_id) DO UPDATE SET address = EXCLUDED.address, as_of = EXCLUDED.as_of
         WHERE saved_addresses.as_of < EXCLUDED.as_of",
    )
    .bind(details.customer_id)
    .bind(details.address.as_ref().map(Json))
    .bind(as_of)
    .execute(conn)
    .await?;
    Ok(kept.rows_affected() == 1)
}

/// Forgets a deleted customer's address.
pub async fn forget(conn: &mut PgConnection, customer: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM saved_addresses WHERE customer_id = $1")
        .bind(customer)
        .execute(conn)
        .await
        .map(drop)
}

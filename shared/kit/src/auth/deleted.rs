//! Deleted customers: their ID tokens stay valid at the issuer until they expire, but
//! a service that knows the account is gone refuses them (401). Each customer-facing
//! service keeps its own list in its own database (`deleted_customers`), filled from
//! `customer.deleted` by [`on_customer_deleted`] (the customer service writes it in
//! its DELETE's own transaction), so the check is one primary-key read, no call to
//! another service.

use cartflow_events::CustomerDeleted;
use cartflow_messaging::{HandlerError, Tx};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Records that `customer` is deleted (again is a no-op).
pub async fn record(conn: &mut PgConnection, customer: Uuid) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO deleted_customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(customer)
        .execute(conn)
        .await?;
    Ok(())
}

/// The `customer.deleted` arm of a service's handler.
pub async fn on_customer_deleted(
    tx: &mut Tx,
    deleted: &CustomerDeleted,
) -> Result<(), HandlerError> {
    record(tx.conn(), deleted.customer_id).await?;
    tracing::info!(customer_id = %deleted.customer_id, "customer deleted: sign-in refused from now on");
    Ok(())
}

pub async fn is_deleted(pool: &PgPool, customer: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_customers WHERE customer_id = $1)")
        .bind(customer)
        .fetch_one(pool)
        .await
}

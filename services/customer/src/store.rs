//! SQL for customers.

use crate::domain::Customer;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const COLUMNS: &str = "id, name, email, phone, address";

/// A customer in the list, with the sign-up time the list is ordered by.
#[derive(sqlx::FromRow)]
pub struct Listed {
    pub created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub customer: Customer,
}

/// Up to `limit` customers, oldest first, after the (created_at, id) given.
pub async fn list(
    pool: &PgPool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Listed>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, created_at FROM customers
         WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2)
         ORDER BY created_at, id LIMIT $3"
    ))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn insert(conn: &mut PgConnection, c: &Customer) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO customers (id, name, email, phone, address) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(c.id)
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.address)
    .execute(conn)
    .await
    .map(drop)
}

/// Returns false when there is no such customer.
pub async fn update(conn: &mut PgConnection, c: &Customer) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE customers SET name = $2, email = $3, phone = $4, address = $5, updated_at = now()
         WHERE id = $1",
    )
    .bind(c.id)
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.address)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Returns false when there is no such customer.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM customers WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

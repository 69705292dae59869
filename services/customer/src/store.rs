//! SQL for customers.

use crate::domain::Customer;
use cartflow_events::ShippingAddress;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const COLUMNS: &str = "id, name, email, phone, address";

/// A `customers` row as read: the domain's `Customer` stays free of the database's types.
#[derive(sqlx::FromRow)]
struct CustomerRow {
    id: Uuid,
    name: String,
    email: String,
    phone: Option<String>,
    address: Option<Json<ShippingAddress>>,
}

impl From<CustomerRow> for Customer {
    fn from(row: CustomerRow) -> Customer {
        Customer {
            id: row.id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            address: row.address.map(|a| a.0),
        }
    }
}

/// A customer in the list, with the sign-up time the list is ordered by.
pub struct Listed {
    pub created_at: DateTime<Utc>,
    pub customer: Customer,
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    customer: CustomerRow,
}

/// Up to `limit` customers, oldest first, after the (created_at, id) given.
pub async fn list(
    pool: &PgPool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Listed>> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<ListedRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, created_at FROM customers
         WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2)
         ORDER BY created_at, id LIMIT $3"
    ))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Listed {
            created_at: row.created_at,
            customer: row.customer.into(),
        })
        .collect())
}

pub async fn get(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Customer>> {
    let row: Option<CustomerRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(Customer::from))
}

pub async fn insert(conn: &mut PgConnection, c: &Customer) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO customers (id, name, email, phone, address) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(c.id)
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(c.address.as_ref().map(Json))
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
    .bind(c.address.as_ref().map(Json))
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

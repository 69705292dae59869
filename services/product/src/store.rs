//! SQL for the catalog.

use crate::domain::Product;
use sqlx::PgPool;

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Product>> {
    sqlx::query_as("SELECT sku, name, description, price_cents FROM products ORDER BY sku")
        .fetch_all(pool)
        .await
}

pub async fn get(pool: &PgPool, sku: &str) -> sqlx::Result<Option<Product>> {
    sqlx::query_as("SELECT sku, name, description, price_cents FROM products WHERE sku = $1")
        .bind(sku)
        .fetch_optional(pool)
        .await
}

pub async fn insert(pool: &PgPool, p: &Product) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (sku, name, description, price_cents) VALUES ($1, $2, $3, $4)",
    )
    .bind(&p.sku)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.price_cents)
    .execute(pool)
    .await
    .map(drop)
}

/// Returns false when there is no such product.
pub async fn update(pool: &PgPool, p: &Product) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE products SET name = $2, description = $3, price_cents = $4, updated_at = now()
         WHERE sku = $1",
    )
    .bind(&p.sku)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.price_cents)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Returns false when there is no such product.
pub async fn delete(pool: &PgPool, sku: &str) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM products WHERE sku = $1")
        .bind(sku)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() == 1)
}

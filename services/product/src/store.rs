//! SQL for the catalog. Every change takes the next catalog version (one sequence),
//! which `product.changed` carries.

use crate::domain::Product;
use sqlx::{PgConnection, PgPool};

/// A `products` row as read (sku, name, description, price_cents, version): the
/// domain's `Product` stays free of the database's traits.
type ProductRow = (String, String, Option<String>, i64, i64);

fn product((sku, name, description, price_cents, version): ProductRow) -> Product {
    Product {
        sku,
        name,
        description,
        price_cents,
        version,
    }
}

/// Up to `limit` products by SKU, after `after` when given (a page of the list).
pub async fn list(pool: &PgPool, after: Option<&str>, limit: i64) -> sqlx::Result<Vec<Product>> {
    let rows: Vec<ProductRow> = sqlx::query_as(
        "SELECT sku, name, description, price_cents, version FROM products
         WHERE $1::text IS NULL OR sku > $1 ORDER BY sku LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(product).collect())
}

pub async fn get(pool: &PgPool, sku: &str) -> sqlx::Result<Option<Product>> {
    let row: Option<ProductRow> = sqlx::query_as(
        "SELECT sku, name, description, price_cents, version FROM products WHERE sku = $1",
    )
    .bind(sku)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(product))
}

/// Returns the new product's version.
pub async fn insert(conn: &mut PgConnection, p: &Product) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO products (sku, name, description, price_cents) VALUES ($1, $2, $3, $4)
         RETURNING version",
    )
    .bind(&p.sku)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.price_cents)
    .fetch_one(conn)
    .await
}

/// Returns the product's new version; `None` when there is no such product.
pub async fn update(conn: &mut PgConnection, p: &Product) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE products SET name = $2, description = $3, price_cents = $4,
                version = nextval('product_versions'), updated_at = now()
         WHERE sku = $1
         RETURNING version",
    )
    .bind(&p.sku)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.price_cents)
    .fetch_optional(conn)
    .await
}

/// Returns what was deleted, with the version of its deletion; `None` when there is
/// no such product.
pub async fn delete(conn: &mut PgConnection, sku: &str) -> sqlx::Result<Option<Product>> {
    let row: Option<ProductRow> = sqlx::query_as(
        "DELETE FROM products WHERE sku = $1
         RETURNING sku, name, description, price_cents, nextval('product_versions') AS version",
    )
    .bind(sku)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(product))
}

//! The catalog as the cart sees it: its own copy (the `catalog` table), kept from
//! `product.changed`, so adding to a cart needs no call to product and keeps working
//! while product is down. A SKU the copy has never heard of is asked of product once
//! (through the kit's `Upstream`: timeouts, retries, circuit breaker) and remembered.
//! A new or emptied copy is filled from product's list at start-up ([`backfill`]).

use cartflow_api::Page;
use cartflow_events::{ProductChanged, Sku};
use cartflow_kit::ApiError;
use cartflow_kit::upstream::{Upstream, UpstreamSettings};
use serde::Deserialize;
use sqlx::{PgExecutor, PgPool};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Catalog {
    products: Upstream,
}

/// A product as product's REST API answers it (what the cart needs of it).
#[derive(Debug, Deserialize)]
struct ProductView {
    sku: String,
    name: String,
    price_cents: i64,
    #[serde(default)]
    version: i64,
}

impl ProductView {
    fn changed(self) -> Result<ProductChanged, String> {
        Ok(ProductChanged {
            sku: Sku::parse(&self.sku)?,
            name: self.name,
            price_cents: self.price_cents,
            active: true,
            version: self.version,
        })
    }
}

impl Catalog {
    pub fn new(base_url: &str, settings: UpstreamSettings) -> anyhow::Result<Self> {
        Ok(Catalog {
            products: Upstream::new("product", base_url, settings)?,
        })
    }

    /// The current price of `sku`: from the cart's copy; for a SKU it has never heard
    /// of, from product (then remembered). 404 if the catalog does not know it or it
    /// was deleted, 503 (with `Retry-After`) if product must be asked and cannot answer.
    pub async fn price_cents(&self, pool: &PgPool, sku: &Sku) -> Result<i64, ApiError> {
        match entry(pool, sku).await? {
            Some((price, true)) => return Ok(price),
            Some((_, false)) => return Err(unknown(sku)),
            None => {}
        }
        let response = self.products.get(&format!("/products/{sku}")).await?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => Err(unknown(sku)),
            status if status.is_success() => {
                let product: ProductView = response.json().await.map_err(unreadable)?;
                let changed = product.changed().map_err(unreadable)?;
                remember(pool, &changed).await?;
                Ok(changed.price_cents)
            }
            status => Err(ApiError::Unavailable {
                detail: format!("the product service answered {status}"),
                retry_after: Some(5),
            }),
        }
    }

    /// Every product product lists, remembered (an entry already newer stays).
    /// Walks the list page by page (its tokens are URL-safe as they come).
    async fn fill_from_product(&self, pool: &PgPool) -> anyhow::Result<usize> {
        let (mut count, mut token) = (0, None::<String>);
        loop {
            let path = match &token {
                None => "/products?page_size=500".to_string(),
                Some(token) => format!("/products?page_size=500&page_token={token}"),
            };
            let response = self.products.get(&path).await?;
            anyhow::ensure!(
                response.status().is_success(),
                "product answered {}",
                response.status()
            );
            let page: Page<ProductView> = response.json().await?;
            count += page.items.len();
            for product in page.items {
                let changed = product.changed().map_err(anyhow::Error::msg)?;
                remember(pool, &changed).await?;
            }
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => return Ok(count),
            }
        }
    }
}

fn unknown(sku: &Sku) -> ApiError {
    ApiError::NotFound(format!("unknown product SKU '{sku}'"))
}

fn unreadable(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable {
        detail: format!("the product service sent an unreadable answer: {e}"),
        retry_after: Some(5),
    }
}

/// The copy's price of `sku` and whether it is on sale; `None` if never heard of.
async fn entry(pool: &PgPool, sku: &Sku) -> sqlx::Result<Option<(i64, bool)>> {
    sqlx::query_as("SELECT price_cents, active FROM catalog WHERE sku = $1")
        .bind(sku.as_str())
        .fetch_optional(pool)
        .await
}

/// Keeps `changed` unless the copy already holds that version or a newer one (a late
/// or repeated event). Returns whether it changed the copy.
pub async fn remember<'e>(db: impl PgExecutor<'e>, changed: &ProductChanged) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO catalog (sku, name, price_cents, active, version)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sku) DO UPDATE
         SET name = EXCLUDED.name, price_cents = EXCLUDED.price_cents,
             active = EXCLUDED.active, version = EXCLUDED.version, updated_at = now()
         WHERE catalog.version < EXCLUDED.version",
    )
    .bind(changed.sku.as_str())
    .bind(&changed.name)
    .bind(changed.price_cents)
    .bind(changed.active)
    .bind(changed.version)
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Fills an empty copy (a new cart database, or one that lost its rows) from
/// product's list, once, retrying with backoff while product cannot answer. A copy
/// that has entries is left to the events.
pub async fn backfill(catalog: Catalog, pool: PgPool, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let empty: Result<bool, _> =
            sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM catalog)")
                .fetch_one(&pool)
                .await;
        let outcome = match empty {
            Ok(false) => return,
            Ok(true) => catalog.fill_from_product(&pool).await,
            Err(err) => Err(err.into()),
        };
        match outcome {
            Ok(count) => {
                tracing::info!(
                    products = count,
                    "catalog copy was empty: filled from product's list"
                );
                return;
            }
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), retry_in = ?backoff,
                    "catalog copy is empty and product's list cannot be read yet; adding asks product per SKU meanwhile");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

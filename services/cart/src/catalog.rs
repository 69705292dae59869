//! The product service, as the cart sees it: a price per SKU. Calls go through the
//! kit's `Upstream` (timeouts, retries, circuit breaker).

use cartflow_events::Sku;
use cartflow_kit::ApiError;
use cartflow_kit::upstream::{Upstream, UpstreamSettings};
use serde::Deserialize;

#[derive(Clone)]
pub struct Catalog {
    products: Upstream,
}

#[derive(Debug, Deserialize)]
struct ProductView {
    price_cents: i64,
}

impl Catalog {
    pub fn new(base_url: &str, settings: UpstreamSettings) -> anyhow::Result<Self> {
        Ok(Catalog {
            products: Upstream::new("product", base_url, settings)?,
        })
    }

    /// The current price of `sku`: 404 if the catalog does not know it, 503 (with
    /// `Retry-After`) if the product service cannot answer.
    pub async fn price_cents(&self, sku: &Sku) -> Result<i64, ApiError> {
        let response = self.products.get(&format!("/products/{sku}")).await?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => {
                Err(ApiError::NotFound(format!("unknown product SKU '{sku}'")))
            }
            status if status.is_success() => {
                let product: ProductView =
                    response.json().await.map_err(|e| ApiError::Unavailable {
                        detail: format!("the product service sent an unreadable answer: {e}"),
                        retry_after: Some(5),
                    })?;
                Ok(product.price_cents)
            }
            status => Err(ApiError::Unavailable {
                detail: format!("the product service answered {status}"),
                retry_after: Some(5),
            }),
        }
    }
}

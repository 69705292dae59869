//! The product service, as the cart sees it: a price per SKU.

use cartflow_events::Sku;
use cartflow_kit::ApiError;
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone)]
pub struct Catalog {
    base_url: String,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct ProductView {
    price_cents: i64,
}

impl Catalog {
    pub fn new(base_url: &str, timeout: Duration) -> reqwest::Result<Self> {
        Ok(Catalog {
            base_url: base_url.to_string(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .build()?,
        })
    }

    /// The current price of `sku`: 404 if the catalog does not know it, 503 if the
    /// product service cannot answer.
    pub async fn price_cents(&self, sku: &Sku) -> Result<i64, ApiError> {
        let unavailable = |detail: String| ApiError::Unavailable {
            detail,
            retry_after: Some(5),
        };
        let url = format!("{}/products/{}", self.base_url, sku);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(format!("the product service did not answer: {e}")))?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => {
                Err(ApiError::NotFound(format!("unknown product SKU '{sku}'")))
            }
            status if status.is_success() => {
                let product: ProductView = response.json().await.map_err(|e| {
                    unavailable(format!(
                        "the product service sent an unreadable answer: {e}"
                    ))
                })?;
                Ok(product.price_cents)
            }
            status => Err(unavailable(format!(
                "the product service answered {status}"
            ))),
        }
    }
}

//! A typed client of the cart service, calling it the way any client would (HTTP,
//! `X-Customer-Id`). The end-to-end tests' shoppers and the load generator share it.

use cart_service::domain::Cart;
use reqwest::StatusCode;
use serde_json::json;
use std::fmt;
use uuid::Uuid;

/// Why a call did not succeed.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The service answered with this status and body (a problem+json detail).
    Status(StatusCode, String),
    /// The call never got an answer (connection refused, timeout…).
    Transport(String),
}

impl CallError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            CallError::Status(status, _) => Some(*status),
            CallError::Transport(_) => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Status(status, body) => write!(f, "answered {status}: {body}"),
            CallError::Transport(error) => write!(f, "{error}"),
        }
    }
}

/// A started checkout (`202 Accepted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub cart_id: Uuid,
    pub checkout_id: Uuid,
}

/// The cart service at `base_url`.
#[derive(Clone)]
pub struct CartClient {
    http: reqwest::Client,
    base_url: String,
}

impl CartClient {
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        CartClient {
            http,
            base_url: base_url.into(),
        }
    }

    /// `POST /cart/items`: adds `quantity` of `sku` to the customer's cart.
    pub async fn add_item(
        &self,
        customer: Uuid,
        sku: &str,
        quantity: i32,
    ) -> Result<Cart, CallError> {
        let request = self
            .http
            .post(format!("{}/cart/items", self.base_url))
            .header("X-Customer-Id", customer.to_string())
            .json(&json!({ "product_sku": sku, "quantity": quantity }));
        parse(request.send().await, StatusCode::OK).await
    }

    /// `POST /cart/convert-to-order`: starts the checkout.
    pub async fn convert(&self, customer: Uuid) -> Result<Accepted, CallError> {
        let request = self
            .http
            .post(format!("{}/cart/convert-to-order", self.base_url))
            .header("X-Customer-Id", customer.to_string());
        let body: serde_json::Value = parse(request.send().await, StatusCode::ACCEPTED).await?;
        let id = |field: &str| {
            body[field]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| {
                    CallError::Status(StatusCode::ACCEPTED, format!("no {field} in {body}"))
                })
        };
        Ok(Accepted {
            cart_id: id("cart_id")?,
            checkout_id: id("checkout_id")?,
        })
    }

    /// `GET /cart`: the customer's latest cart.
    pub async fn cart(&self, customer: Uuid) -> Result<Cart, CallError> {
        let request = self
            .http
            .get(format!("{}/cart", self.base_url))
            .header("X-Customer-Id", customer.to_string());
        parse(request.send().await, StatusCode::OK).await
    }
}

async fn parse<T: serde::de::DeserializeOwned>(
    sent: reqwest::Result<reqwest::Response>,
    expected: StatusCode,
) -> Result<T, CallError> {
    let response = sent.map_err(|e| CallError::Transport(e.to_string()))?;
    let status = response.status();
    if status != expected {
        return Err(CallError::Status(
            status,
            response.text().await.unwrap_or_default(),
        ));
    }
    response
        .json()
        .await
        .map_err(|e| CallError::Status(status, format!("unreadable body: {e}")))
}

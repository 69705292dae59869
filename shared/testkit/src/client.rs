//! A typed client of the cart service, calling it the way any client would (HTTP,
//! `X-Customer-Id`). The end-to-end tests' shoppers and the load generator share it,
//! and the seeder shares [`as_staff`] and [`as_customer`].

use cart_service::domain::Cart;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::json;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// `request` as the customer `id`, with the development header (`AUTH_MODE=header`).
pub fn as_customer(request: RequestBuilder, id: Uuid) -> RequestBuilder {
    request.header("X-Customer-Id", id.to_string())
}

/// `request` as the customer `id`: with a token from `tokens` when given
/// (`AUTH_MODE=oidc`), else with the development header.
pub fn sign_in_as(
    request: RequestBuilder,
    id: Uuid,
    tokens: Option<&TokenSigner>,
) -> RequestBuilder {
    match tokens {
        Some(sign) => request.bearer_auth(sign(id)),
        None => as_customer(request, id),
    }
}

/// `request` as staff, with the development header (`AUTH_MODE=header`).
pub fn as_staff(request: RequestBuilder) -> RequestBuilder {
    request.header("X-Role", "staff")
}

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

/// Signs an ID token for a customer (OIDC mode; tests serve their own issuer).
pub type TokenSigner = Arc<dyn Fn(Uuid) -> String + Send + Sync>;

/// The cart service at `base_url`.
#[derive(Clone)]
pub struct CartClient {
    http: reqwest::Client,
    base_url: String,
    /// `None`: the development header names the customer.
    tokens: Option<TokenSigner>,
}

impl CartClient {
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        CartClient {
            http,
            base_url: base_url.into(),
            tokens: None,
        }
    }

    /// Calls as each customer with a bearer token from `tokens` (`AUTH_MODE=oidc`).
    pub fn with_tokens(mut self, tokens: TokenSigner) -> Self {
        self.tokens = Some(tokens);
        self
    }

    fn customer(&self, request: RequestBuilder, id: Uuid) -> RequestBuilder {
        sign_in_as(request, id, self.tokens.as_ref())
    }

    /// `POST /cart/items`: adds `quantity` of `sku` to the customer's cart.
    pub async fn add_item(
        &self,
        customer: Uuid,
        sku: &str,
        quantity: i32,
    ) -> Result<Cart, CallError> {
        let request = self
            .customer(
                self.http.post(format!("{}/cart/items", self.base_url)),
                customer,
            )
            .json(&json!({ "product_sku": sku, "quantity": quantity }));
        parse(request.send().await, StatusCode::OK).await
    }

    /// `POST /cart/convert-to-order`: starts the checkout.
    pub async fn convert(&self, customer: Uuid) -> Result<Accepted, CallError> {
        let request = self.customer(
            self.http
                .post(format!("{}/cart/convert-to-order", self.base_url)),
            customer,
        );
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
        let request = self.customer(self.http.get(format!("{}/cart", self.base_url)), customer);
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

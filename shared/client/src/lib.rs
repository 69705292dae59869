//! Typed clients of the services, calling them the way any client would (HTTP, signed
//! in with the development headers or a bearer token): [`CartClient`] as a customer,
//! [`OrderClient`] and [`NotificationClient`] as staff. The end-to-end tests use all
//! three, the load generator the cart's, and the seeder and the console share
//! [`as_staff`] and [`as_customer`].

use cartflow_api::Page;
use cartflow_api::cart::{Cart, CheckoutRequest};
use cartflow_api::notification::Notification;
use cartflow_api::order::Order;
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

/// `request` as staff: with `token` when given (`AUTH_MODE=oidc`), else with the
/// development header.
pub fn sign_in_as_staff(request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => as_staff(request),
    }
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

    /// `POST /cart/convert-to-order`, paid with the sandbox's approving test card.
    pub async fn convert(&self, customer: Uuid) -> Result<Accepted, CallError> {
        self.convert_with(
            customer,
            &CheckoutRequest::paid_with(CheckoutRequest::TEST_CARD),
        )
        .await
    }

    /// `POST /cart/convert-to-order`: starts the checkout, paid and shipped as `checkout` says.
    pub async fn convert_with(
        &self,
        customer: Uuid,
        checkout: &CheckoutRequest,
    ) -> Result<Accepted, CallError> {
        let request = self
            .customer(
                self.http
                    .post(format!("{}/cart/convert-to-order", self.base_url)),
                customer,
            )
            .json(checkout);
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

/// A service called as staff, who see every customer's records.
#[derive(Clone)]
struct AsStaff {
    http: reqwest::Client,
    base_url: String,
    /// `None`: the development header says staff.
    token: Option<String>,
}

impl AsStaff {
    fn new(http: reqwest::Client, base_url: String) -> Self {
        AsStaff {
            http,
            base_url,
            token: None,
        }
    }

    /// `GET {path}`, expecting 200 and a `T`.
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        let request = sign_in_as_staff(
            self.http.get(format!("{}{path}", self.base_url)),
            self.token.as_deref(),
        );
        parse(request.send().await, StatusCode::OK).await
    }

    /// Every item of the list at `path` matching `filters` (a query string), walking
    /// its pages (500 items each) until the last.
    async fn all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        filters: &str,
    ) -> Result<Vec<T>, CallError> {
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut query = format!("page_size={}", Page::<T>::MAX_SIZE);
            if !filters.is_empty() {
                query = format!("{filters}&{query}");
            }
            if let Some(token) = &next {
                query.push_str(&format!("&page_token={token}"));
            }
            let page: Page<T> = self.get(&format!("{path}?{query}")).await?;
            items.extend(page.items);
            match page.next_page_token {
                Some(token) => next = Some(token),
                None => return Ok(items),
            }
        }
    }
}

/// The order service at `base_url`, as staff.
#[derive(Clone)]
pub struct OrderClient(AsStaff);

impl OrderClient {
    /// Calls with the development header (`AUTH_MODE=header`).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        OrderClient(AsStaff::new(http, base_url.into()))
    }

    /// Calls with a staff bearer token (`AUTH_MODE=oidc`).
    pub fn with_staff_token(mut self, token: impl Into<String>) -> Self {
        self.0.token = Some(token.into());
        self
    }

    /// `GET /orders?{query}`: one page of the orders matching `query`, a query string
    /// of `customer_id`, `status`, `cart_id`, `page_size` and `page_token` (empty: the
    /// first page of every order).
    pub async fn page(&self, query: &str) -> Result<Page<Order>, CallError> {
        self.0.get(&format!("/orders?{query}")).await
    }

    /// Every order matching `query` (filters only), newest first, page after page.
    pub async fn list(&self, query: &str) -> Result<Vec<Order>, CallError> {
        self.0.all("/orders", query).await
    }

    /// `GET /orders/{id}`: one order.
    pub async fn get(&self, id: Uuid) -> Result<Order, CallError> {
        self.0.get(&format!("/orders/{id}")).await
    }
}

/// The notification service at `base_url`, as staff.
#[derive(Clone)]
pub struct NotificationClient(AsStaff);

impl NotificationClient {
    /// Calls with the development header (`AUTH_MODE=header`).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        NotificationClient(AsStaff::new(http, base_url.into()))
    }

    /// Calls with a staff bearer token (`AUTH_MODE=oidc`).
    pub fn with_staff_token(mut self, token: impl Into<String>) -> Self {
        self.0.token = Some(token.into());
        self
    }

    /// `GET /notifications?customer_id={customer}`: every notification of the
    /// customer, newest first, page after page.
    pub async fn list(&self, customer: Uuid) -> Result<Vec<Notification>, CallError> {
        self.0
            .all("/notifications", &format!("customer_id={customer}"))
            .await
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

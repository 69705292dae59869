//! The storefront's calls: the demo customers, the catalog with its stock, and a
//! customer's cart, orders, emails and push messages, through the services' own
//! routes. The console signs in as the chosen customer the local way
//! (`X-Customer-Id`, `AUTH_MODE=header`); with OpenID Connect sign-in the services
//! refuse it, and the page shows their answer.

use super::Console;
use super::services::{Caller, Reply, TIMEOUT};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cartflow_events::Service;
use cartflow_kit::http::{ApiError, ApiJson, ApiResult};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

pub fn router() -> Router<Console> {
    Router::new()
        .route("/api/shop/customers", get(customers))
        .route("/api/shop/catalog", get(catalog))
        .route("/api/shop/customers/{id}/cart", get(cart))
        .route("/api/shop/customers/{id}/cart/items", post(add_item))
        .route("/api/shop/customers/{id}/checkout", post(checkout))
        .route("/api/shop/customers/{id}/orders", get(orders))
        .route(
            "/api/shop/customers/{id}/orders/{order}/cancel",
            post(cancel),
        )
        .route("/api/shop/customers/{id}/mail", get(mail))
        .route("/api/shop/customers/{id}/push", get(push))
}

/// A customer path parameter, checked before anything is called.
fn customer(raw: &str) -> ApiResult<Uuid> {
    raw.parse()
        .map_err(|_| ApiError::BadRequest(format!("'{raw}' is not a customer id (a UUID)")))
}

/// Calls `service` signed in as the customer of path parameter `raw_id`.
async fn as_customer(
    console: &Console,
    raw_id: &str,
    method: Method,
    service: Service,
    path: &str,
    body: Option<&Value>,
) -> ApiResult<Reply> {
    let id = customer(raw_id)?;
    let path = path.replace("{customer}", &id.to_string());
    console
        .inner
        .services
        .call(method, service, &path, Caller::Customer(id), body, TIMEOUT)
        .await
}

async fn customers(State(console): State<Console>) -> ApiResult<Reply> {
    console
        .inner
        .services
        .get_all(Service::Customer, "/customers", Caller::Staff)
        .await
}

/// Products with their stock, by SKU.
async fn catalog(State(console): State<Console>) -> ApiResult<Response> {
    let services = &console.inner.services;
    let (products, stock) = tokio::join!(
        services.get_all(Service::Product, "/products", Caller::Public),
        services.get_all(Service::Inventory, "/inventory", Caller::Public)
    );
    let products = match products?.into_ok() {
        Ok(p) => p,
        Err(refused) => return Ok(refused.into_response()),
    };
    let stock: HashMap<String, Value> = stock?
        .into_ok()
        .ok()
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| Some((s["sku"].as_str()?.to_string(), s)))
        .collect();
    let items: Vec<Value> = products
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let sku = p["sku"].as_str().unwrap_or_default();
            let s = stock.get(sku);
            json!({
                "sku": sku,
                "name": p["name"],
                "price_cents": p["price_cents"],
                "available": s.map(|s| s["quantity"].clone()),
                "reserved": s.map(|s| s["reserved"].clone()),
            })
        })
        .collect();
    Ok(Json(json!(items)).into_response())
}

async fn cart(State(console): State<Console>, Path(id): Path<String>) -> ApiResult<Reply> {
    as_customer(&console, &id, Method::GET, Service::Cart, "/cart", None).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddItem {
    product_sku: String,
    quantity: i64,
}

async fn add_item(
    State(console): State<Console>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddItem>,
) -> ApiResult<Reply> {
    let line = json!({ "product_sku": body.product_sku, "quantity": body.quantity });
    as_customer(
        &console,
        &id,
        Method::POST,
        Service::Cart,
        "/cart/items",
        Some(&line),
    )
    .await
}

/// Checks out with the payment method (a test card's token) and address the page sends;
/// cart refuses a body shaped like card data before anything of it is kept.
async fn checkout(
    State(console): State<Console>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Reply> {
    let convert = "/cart/convert-to-order";
    as_customer(
        &console,
        &id,
        Method::POST,
        Service::Cart,
        convert,
        Some(&body),
    )
    .await
}

async fn orders(State(console): State<Console>, Path(id): Path<String>) -> ApiResult<Reply> {
    as_customer(&console, &id, Method::GET, Service::Order, "/orders", None).await
}

async fn cancel(
    State(console): State<Console>,
    Path((id, order)): Path<(String, String)>,
) -> ApiResult<Reply> {
    let order: Uuid = order
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("'{order}' is not an order id (a UUID)")))?;
    let reason = json!({ "reason": "cancelled in the console's storefront" });
    let path = format!("/orders/{order}/cancel");
    as_customer(
        &console,
        &id,
        Method::POST,
        Service::Order,
        &path,
        Some(&reason),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MailQuery {
    to: String,
}

/// The customer's emails: what the local mail catcher caught for their address, or
/// else email-push's record of what it sent them.
async fn mail(
    State(console): State<Console>,
    Path(id): Path<String>,
    Query(query): Query<MailQuery>,
) -> ApiResult<Json<Value>> {
    let id = customer(&id)?;
    let to = query.to.trim().to_lowercase();
    if let Some(view) = &console.inner.settings.mail_view {
        let caught = console
            .inner
            .services
            .get_url(&format!("{view}/messages"))
            .await?;
        let theirs: Vec<Value> = caught
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| {
                m["to"]
                    .as_array()
                    .is_some_and(|to_all| to_all.iter().any(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(&to))))
            })
            .map(|m| json!({ "subject": m["subject"], "body": m["body"], "at": m["received_at"], "source": "mail catcher" }))
            .collect();
        return Ok(Json(json!(theirs)));
    }
    let sent = console
        .inner
        .services
        .get(
            Service::EmailPush,
            &format!(
                "/emails?to={}",
                url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()
            ),
            Caller::Customer(id),
        )
        .await?
        .into_ok()
        .map_err(|refused| ApiError::Unavailable {
            detail: format!("email-push: {}", refused.detail()),
            retry_after: None,
        })?;
    let theirs: Vec<Value> = sent["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| json!({ "subject": m["subject"], "body": m["body"], "at": m["sent_at"], "source": format!("email-push ({})", m["status"].as_str().unwrap_or("?")) }))
        .collect();
    Ok(Json(json!(theirs)))
}

async fn push(State(console): State<Console>, Path(id): Path<String>) -> ApiResult<Reply> {
    let inbox = "/push/{customer}";
    as_customer(&console, &id, Method::GET, Service::EmailPush, inbox, None).await
}

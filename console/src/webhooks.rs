//! The webhooks page's calls: the endpoints staff subscribed, their deliveries, and
//! replays, through notification's own `/webhooks` routes as staff (the local way; with
//! OpenID Connect sign-in the service refuses it, and the page shows its answer).

use super::Console;
use super::services::{Caller, Reply, TIMEOUT};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::{get, post};
use cartflow_events::Service;
use cartflow_kit::http::ApiResult;
use cartflow_kit::{ApiError, ApiJson};
use uuid::Uuid;

pub fn router() -> Router<Console> {
    Router::new()
        .route("/api/webhooks", get(endpoints))
        .route("/api/webhooks/{id}/deliveries", get(deliveries))
        .route("/api/webhooks/{id}/deliveries/{delivery}", get(delivery))
        .route(
            "/api/webhooks/{id}/deliveries/{delivery}/replay",
            post(replay_one),
        )
        .route("/api/webhooks/{id}/replay", post(replay_since))
}

/// Ids go into notification's path only once they parse.
fn id(raw: &str) -> ApiResult<Uuid> {
    raw.parse()
        .map_err(|_| ApiError::BadRequest(format!("'{raw}' is not an id")))
}

/// Calls notification's `path` as staff.
async fn as_staff(
    console: &Console,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> ApiResult<Reply> {
    let services = &console.inner.services;
    services
        .call(
            method,
            Service::Notification,
            path,
            Caller::Staff,
            body,
            TIMEOUT,
        )
        .await
}

async fn endpoints(State(console): State<Console>) -> ApiResult<Reply> {
    as_staff(&console, Method::GET, "/webhooks", None).await
}

async fn deliveries(
    State(console): State<Console>,
    Path(endpoint): Path<String>,
) -> ApiResult<Reply> {
    let path = format!("/webhooks/{}/deliveries", id(&endpoint)?);
    as_staff(&console, Method::GET, &path, None).await
}

/// One delivery with its attempts.
async fn delivery(
    State(console): State<Console>,
    Path((endpoint, delivery)): Path<(String, String)>,
) -> ApiResult<Reply> {
    let (endpoint, delivery) = (id(&endpoint)?, id(&delivery)?);
    let path = format!("/webhooks/{endpoint}/deliveries/{delivery}");
    as_staff(&console, Method::GET, &path, None).await
}

async fn replay_one(
    State(console): State<Console>,
    Path((endpoint, delivery)): Path<(String, String)>,
) -> ApiResult<Reply> {
    let (endpoint, delivery) = (id(&endpoint)?, id(&delivery)?);
    tracing::info!(%endpoint, %delivery, "console: webhook delivery replayed");
    let path = format!("/webhooks/{endpoint}/deliveries/{delivery}/replay");
    as_staff(&console, Method::POST, &path, None).await
}

/// Every parked delivery of the endpoint since `{since}`.
async fn replay_since(
    State(console): State<Console>,
    Path(endpoint): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Reply> {
    let endpoint = id(&endpoint)?;
    tracing::info!(%endpoint, since = %body["since"], "console: parked webhook deliveries replayed");
    let path = format!("/webhooks/{endpoint}/replay");
    as_staff(&console, Method::POST, &path, Some(&body)).await
}

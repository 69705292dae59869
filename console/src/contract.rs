//! The API page's data: each service's OpenAPI document (asked of the service, as a
//! client would) and the AsyncAPI document of the topics (generated here from the
//! declared topology, the same as `cartflow asyncapi`).

use super::Console;
use super::services::{Caller, Reply};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use cartflow_events::Service;
use cartflow_kit::http::{ApiError, ApiResult};

pub fn router() -> Router<Console> {
    Router::new()
        .route("/api/contract/openapi/{service}", get(openapi))
        .route("/api/contract/asyncapi", get(asyncapi))
}

async fn openapi(State(console): State<Console>, Path(service): Path<String>) -> ApiResult<Reply> {
    let service: Service = service.parse().map_err(ApiError::NotFound)?;
    console
        .inner
        .services
        .get(service, "/openapi.json", Caller::Public)
        .await
}

async fn asyncapi() -> Json<serde_json::Value> {
    let document = cartflow_events::asyncapi::document(&cartflow_events::Topology::default());
    Json(serde_json::to_value(document).expect("the document serialises"))
}

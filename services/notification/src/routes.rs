//! `/notifications` REST routes.

use crate::domain::{self, To};
use crate::notify;
use crate::store::{self, Notification};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_kit::AppContext;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use cartflow_messaging::Cause;
use serde::Deserialize;
use uuid::Uuid;

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> Router {
    Router::new()
        .route("/notifications", get(list).post(create))
        .route("/notifications/{id}", get(show))
        .with_state(app)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    customer_id: Option<Uuid>,
}

async fn list(
    State(app): State<AppContext>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    Ok(Json(store::list(&app.pool, q.customer_id).await?))
}

async fn show(
    State(app): State<AppContext>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Notification>> {
    store::get(&app.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no notification with id {id}")))
}

/// A manual notification to a customer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualNotification {
    customer_id: Uuid,
    subject: String,
    body: String,
    /// Default: both.
    channels: Option<Vec<String>>,
}

async fn create(
    State(app): State<AppContext>,
    ApiJson(body): ApiJson<ManualNotification>,
) -> ApiResult<(StatusCode, Json<Vec<Notification>>)> {
    let manual = domain::manual(&body.subject, &body.body, body.channels.as_deref())
        .map_err(ApiError::Unprocessable)?;
    // A message sent by hand starts a saga of its own.
    let mut tx = app.outbox.begin_for(Cause::command(Uuid::new_v4())).await?;
    let contact = store::contact(tx.conn(), body.customer_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no contact details for customer {}",
                body.customer_id
            ))
        })?;
    let to = To {
        customer_id: Some(body.customer_id),
        email: contact.email.as_deref(),
    };
    let sent = notify::send(&mut tx, None, to, &manual.message, &manual.channels).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

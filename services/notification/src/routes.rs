//! `/notifications` REST routes. A customer sees their own notifications; staff see
//! all and send them by hand.

use crate::domain::{self, To};
use crate::notify;
use crate::store::{self, Notification};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_kit::AppContext;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Caller, Staff};
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
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    let Ok(customer_id) = caller.list_filter(q.customer_id) else {
        return Ok(Json(Vec::new()));
    };
    Ok(Json(store::list(&app.pool, customer_id).await?))
}

async fn show(
    State(app): State<AppContext>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Notification>> {
    store::get(&app.pool, id)
        .await?
        // Staff's own notifications (no customer) are for staff only.
        .filter(|n| caller.is_staff() || n.customer_id.is_some_and(|c| caller.may_access(c)))
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
    _: Staff,
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

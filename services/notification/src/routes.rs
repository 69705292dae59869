//! `/notifications` REST routes. A customer sees their own notifications; staff see
//! all and send them by hand.

use crate::domain::{self, To};
use crate::notify;
use crate::store::{self, Notification};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cartflow_api::Page;
use cartflow_kit::AppContext;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, PageParams, Problem};
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, Caller, Staff};
use cartflow_messaging::Cause;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .with_state(app)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this customer's (staff; a customer sees only their own anyway).
    customer_id: Option<Uuid>,
}

/// Notifications, newest first: the caller's own, or anyone's for staff.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(ListQuery, PageParams),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses((status = 200, description = "A page of notifications, newest first", body = Page<Notification>)))]
async fn list(
    State(app): State<AppContext>,
    caller: Caller,
    listing: Listing<ListQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    let Ok(customer_id) = caller.list_filter(listing.filters.customer_id) else {
        return Ok(Json(Page::last(Vec::new())));
    };
    let page = listing.page;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let rows = store::list(&app.pool, customer_id, after, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |n| (n.created_at, n.id))))
}

/// One notification: the caller's own, or any for staff.
#[utoipa::path(get, path = "/notifications/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "The notification's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The notification", body = Notification),
        (status = 404, description = "No such notification, or not the caller's", body = Problem, content_type = "application/problem+json")))]
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ManualNotification {
    customer_id: Uuid,
    subject: String,
    body: String,
    /// `email`, `push`, or both (the default).
    channels: Option<Vec<String>>,
}

/// Sends a notification to a customer by hand, on each channel asked. Staff only.
#[utoipa::path(post, path = "/notifications", tag = "notifications", request_body = ManualNotification,
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 201, description = "One notification per channel, queued for delivery", body = Vec<Notification>),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No contact details for that customer", body = Problem, content_type = "application/problem+json")))]
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

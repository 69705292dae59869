//! `/orders` REST routes. A customer lists, reads and cancels their own orders
//! (someone else's is a 404, as if it did not exist); staff see them all and move
//! them to shipped and delivered.

use crate::domain::{
    CancelRequest, Order, OrderStatus, StatusChange, StatusRequest, can_cancel, status_change,
};
use crate::store::{self, OrderFilter};
use axum::Json;
use axum::extract::State;
use cartflow_api::Page;
use cartflow_events::{OrderCancelled, OrderDelivered, OrderShipped, OrderStatusChanged};
use cartflow_kit::AppContext;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, OptionalJson, PageParams, Problem};
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
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(cancel))
        .routes(routes!(set_status))
        .with_state(app)
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("no order with id {id}"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this customer's (staff; a customer sees only their own anyway).
    customer_id: Option<Uuid>,
    /// Only orders in this status.
    #[param(value_type = Option<OrderStatus>)]
    status: Option<String>,
    /// Only the order of this cart.
    cart_id: Option<Uuid>,
}

/// Orders, newest first: the caller's own, or anyone's for staff.
#[utoipa::path(get, path = "/orders", tag = "orders", params(ListQuery, PageParams),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses((status = 200, description = "A page of orders, newest first", body = Page<Order>)))]
async fn list(
    State(app): State<AppContext>,
    caller: Caller,
    listing: Listing<ListQuery>,
) -> ApiResult<Json<Page<Order>>> {
    let q = listing.filters;
    let Ok(customer_id) = caller.list_filter(q.customer_id) else {
        return Ok(Json(Page::last(Vec::new())));
    };
    let status = q
        .status
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let filter = OrderFilter {
        customer_id,
        status,
        cart_id: q.cart_id,
    };
    let page = listing.page;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let rows = store::list(&app.pool, &filter, after, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |o| (o.created_at, o.id))))
}

/// One order: the caller's own, or any for staff.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order, or not the caller's", body = Problem, content_type = "application/problem+json")))]
async fn show(
    State(app): State<AppContext>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Order>> {
    store::get(&app.pool, id)
        .await?
        .filter(|order| caller.may_access(order.customer_id))
        .map(Json)
        .ok_or_else(|| not_found(id))
}

/// Cancels a confirmed order and announces it (`order.cancelled`): inventory returns
/// the stock and payment refunds the capture. The body (with a `reason`) is optional.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders",
    request_body(content = Option<CancelRequest>, description = "Optional: why"),
    params(("id" = Uuid, Path, description = "The order's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The order, cancelled", body = Order),
        (status = 404, description = "No such order, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is past cancelling (shipped, delivered or cancelled)", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(order_id = %id))]
async fn cancel(
    State(app): State<AppContext>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<CancelRequest>,
) -> ApiResult<Json<Order>> {
    let reason = body.reason().map_err(ApiError::Unprocessable)?;
    let mut tx = app.outbox.begin().await?;
    let current = store::lock_status(tx.conn(), id)
        .await?
        .filter(|(_, owner)| caller.may_access(*owner))
        .map(|(status, _)| status)
        .ok_or_else(|| not_found(id))?;
    can_cancel(current).map_err(|r| ApiError::Conflict(r.0))?;
    store::set_status(tx.conn(), id, OrderStatus::Cancelled, Some(&reason)).await?;
    let order = store::get(tx.conn(), id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let event = OrderCancelled {
        order_id: id,
        cart_id: order.cart_id,
        checkout_id: Some(order.checkout_id),
        customer_id: order.customer_id,
        items: order.items.clone(),
        reason,
    };
    tx.publish_caused_by(&Cause::command(order.cart_id), &event)
        .await?;
    tx.commit().await?;
    tracing::info!("order cancelled");
    Ok(Json(order))
}

/// Moves a confirmed order to shipped, or a shipped one to delivered, and announces
/// it (`order.shipped`, `order.delivered`). Setting the status it has is a no-op. Staff only.
#[utoipa::path(put, path = "/orders/{id}/status", tag = "orders", request_body = StatusRequest,
    params(("id" = Uuid, Path, description = "The order's id")),
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The order as it now is", body = Order),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a step forward from the order's status", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(order_id = %id))]
async fn set_status(
    State(app): State<AppContext>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<StatusRequest>,
) -> ApiResult<Json<Order>> {
    let target = body.target().map_err(ApiError::Unprocessable)?;
    let mut tx = app.outbox.begin().await?;
    let (current, _) = store::lock_status(tx.conn(), id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let change = status_change(current, target).map_err(|r| ApiError::Conflict(r.0))?;
    if change == StatusChange::Advance {
        store::set_status(tx.conn(), id, target, None).await?;
    }
    let order = store::get(tx.conn(), id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if change == StatusChange::Advance {
        let changed = OrderStatusChanged {
            order_id: id,
            cart_id: order.cart_id,
            customer_id: order.customer_id,
            status: target.to_string(),
        };
        let cause = Cause::command(order.cart_id);
        match target {
            OrderStatus::Shipped => tx.publish_caused_by(&cause, &OrderShipped(changed)).await?,
            _ => {
                tx.publish_caused_by(&cause, &OrderDelivered(changed))
                    .await?
            }
        };
    }
    tx.commit().await?;
    Ok(Json(order))
}

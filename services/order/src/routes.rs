//! `/orders` REST routes. A customer lists, reads and cancels their own orders
//! (someone else's is a 404, as if it did not exist); staff see them all and move
//! them to shipped and delivered.

use crate::domain::{
    CancelRequest, Order, OrderStatus, StatusChange, StatusRequest, can_cancel, status_change,
};
use crate::store::{self, OrderFilter};
use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use cartflow_events::{OrderCancelled, OrderDelivered, OrderShipped, OrderStatusChanged};
use cartflow_kit::AppContext;
use cartflow_kit::http::OptionalJson;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Caller, Staff};
use cartflow_messaging::Cause;
use serde::Deserialize;
use uuid::Uuid;

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> Router {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(show))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/status", put(set_status))
        .with_state(app)
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("no order with id {id}"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    customer_id: Option<Uuid>,
    status: Option<String>,
    cart_id: Option<Uuid>,
}

async fn list(
    State(app): State<AppContext>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Order>>> {
    let Ok(customer_id) = caller.list_filter(q.customer_id) else {
        return Ok(Json(Vec::new()));
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
    Ok(Json(store::list(&app.pool, &filter).await?))
}

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

/// Cancels a confirmed order and announces it, so inventory returns the stock.
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

/// Moves a confirmed order to shipped, or a shipped one to delivered.
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

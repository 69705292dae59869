//! `/inventory` REST routes: stock levels are public to read; staff change them.

use crate::domain::{NewStockItem, SetQuantity, StockItem, check_quantity, crosses_low_stock};
use crate::store;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_events::LowStock;
use cartflow_events::Sku;
use cartflow_kit::AppContext;
use cartflow_kit::db::is_unique_violation;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, Staff};
use cartflow_messaging::Cause;

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> Router {
    Router::new()
        .route("/inventory", get(list).post(create))
        .route(
            "/inventory/{sku}",
            get(show).put(set_quantity).delete(remove),
        )
        .with_state(app)
}

fn not_found(sku: &str) -> ApiError {
    ApiError::NotFound(format!("no stock item with SKU '{sku}'"))
}

async fn list(State(app): State<AppContext>) -> ApiResult<Json<Vec<StockItem>>> {
    Ok(Json(store::list(&app.pool).await?))
}

async fn show(
    State(app): State<AppContext>,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<Json<StockItem>> {
    store::get(&app.pool, sku.as_str())
        .await?
        .map(Json)
        .ok_or_else(|| not_found(sku.as_str()))
}

async fn create(
    State(app): State<AppContext>,
    _: Staff,
    ApiJson(body): ApiJson<NewStockItem>,
) -> ApiResult<impl IntoResponse> {
    let sku = Sku::parse(&body.sku).map_err(ApiError::Unprocessable)?;
    let quantity = check_quantity("quantity", body.quantity).map_err(ApiError::Unprocessable)?;
    let threshold = check_quantity("low_stock_threshold", body.low_stock_threshold.unwrap_or(0))
        .map_err(ApiError::Unprocessable)?;
    match store::insert(&app.pool, sku.as_str(), quantity, threshold).await {
        Ok(item) => Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("/inventory/{sku}"))],
            Json(item),
        )),
        Err(e) if is_unique_violation(&e) => Err(ApiError::Conflict(format!(
            "stock for SKU '{sku}' already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Sets the sellable quantity (a stock count or a delivery), alerting on a crossing
/// of the low-stock threshold like a sale would.
async fn set_quantity(
    State(app): State<AppContext>,
    _: Staff,
    ApiPath(sku): ApiPath<Sku>,
    ApiJson(body): ApiJson<SetQuantity>,
) -> ApiResult<Json<StockItem>> {
    let quantity = check_quantity("quantity", body.quantity).map_err(ApiError::Unprocessable)?;
    let mut tx = app.outbox.begin().await?;
    let levels = store::lock_levels(tx.conn(), &[sku.to_string()]).await?;
    let level = *levels
        .get(sku.as_str())
        .ok_or_else(|| not_found(sku.as_str()))?;
    let item = store::set_available(tx.conn(), sku.as_str(), quantity).await?;
    if crosses_low_stock(level.available, quantity, level.threshold) {
        let alert = LowStock {
            product_sku: sku.clone(),
            available: quantity,
            threshold: level.threshold,
        };
        tx.publish_caused_by(&Cause::command(&sku), &alert).await?;
    }
    tx.commit().await?;
    Ok(Json(item))
}

async fn remove(
    State(app): State<AppContext>,
    _: Staff,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<StatusCode> {
    if store::delete(&app.pool, sku.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(sku.as_str()))
    }
}

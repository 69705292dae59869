//! `/inventory` REST routes.

use crate::domain::{NewStockItem, SetQuantity, StockItem, check_quantity};
use crate::store;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_events::Sku;
use cartflow_kit::db::is_unique_violation;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult};
use sqlx::PgPool;

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/inventory", get(list).post(create))
        .route(
            "/inventory/{sku}",
            get(show).put(set_quantity).delete(remove),
        )
        .with_state(pool)
}

fn not_found(sku: &str) -> ApiError {
    ApiError::NotFound(format!("no stock item with SKU '{sku}'"))
}

async fn list(State(pool): State<PgPool>) -> ApiResult<Json<Vec<StockItem>>> {
    Ok(Json(store::list(&pool).await?))
}

async fn show(
    State(pool): State<PgPool>,
    ApiPath(sku): ApiPath<String>,
) -> ApiResult<Json<StockItem>> {
    store::get(&pool, &sku)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&sku))
}

async fn create(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<NewStockItem>,
) -> ApiResult<impl IntoResponse> {
    let sku = Sku::parse(&body.sku).map_err(ApiError::Unprocessable)?;
    let quantity = check_quantity("quantity", body.quantity).map_err(ApiError::Unprocessable)?;
    let threshold = check_quantity("low_stock_threshold", body.low_stock_threshold.unwrap_or(0))
        .map_err(ApiError::Unprocessable)?;
    match store::insert(&pool, sku.as_str(), quantity, threshold).await {
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

async fn set_quantity(
    State(pool): State<PgPool>,
    ApiPath(sku): ApiPath<String>,
    ApiJson(body): ApiJson<SetQuantity>,
) -> ApiResult<Json<StockItem>> {
    let quantity = check_quantity("quantity", body.quantity).map_err(ApiError::Unprocessable)?;
    store::set_available(&pool, &sku, quantity)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&sku))
}

async fn remove(
    State(pool): State<PgPool>,
    ApiPath(sku): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if store::delete(&pool, &sku).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&sku))
    }
}

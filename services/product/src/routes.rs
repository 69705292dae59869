//! `/products` REST routes: the catalog is public to read; staff change it.

use crate::domain::{NewProduct, Product, ProductFields};
use crate::store;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_events::Sku;
use cartflow_kit::db::is_unique_violation;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, Staff};
use sqlx::PgPool;

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/products", get(list).post(create))
        .route("/products/{sku}", get(show).put(replace).delete(remove))
        .with_state(pool)
}

fn not_found(sku: &str) -> ApiError {
    ApiError::NotFound(format!("no product with SKU '{sku}'"))
}

async fn list(State(pool): State<PgPool>) -> ApiResult<Json<Vec<Product>>> {
    Ok(Json(store::list(&pool).await?))
}

async fn show(State(pool): State<PgPool>, ApiPath(sku): ApiPath<Sku>) -> ApiResult<Json<Product>> {
    store::get(&pool, sku.as_str())
        .await?
        .map(Json)
        .ok_or_else(|| not_found(sku.as_str()))
}

#[tracing::instrument(skip_all, fields(sku = %body.sku))]
async fn create(
    State(pool): State<PgPool>,
    _: Staff,
    ApiJson(body): ApiJson<NewProduct>,
) -> ApiResult<impl IntoResponse> {
    let product = body.parse().map_err(ApiError::Unprocessable)?;
    match store::insert(&pool, &product).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("/products/{}", product.sku))],
            Json(product),
        )),
        Err(e) if is_unique_violation(&e) => Err(ApiError::Conflict(format!(
            "a product with SKU '{}' already exists",
            product.sku
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn replace(
    State(pool): State<PgPool>,
    _: Staff,
    ApiPath(sku): ApiPath<Sku>,
    ApiJson(body): ApiJson<ProductFields>,
) -> ApiResult<Json<Product>> {
    let product = body.parse(sku).map_err(ApiError::Unprocessable)?;
    if store::update(&pool, &product).await? {
        Ok(Json(product))
    } else {
        Err(not_found(&product.sku))
    }
}

async fn remove(
    State(pool): State<PgPool>,
    _: Staff,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<StatusCode> {
    if store::delete(&pool, sku.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(sku.as_str()))
    }
}

//! `/products` REST routes: the catalog is public to read; staff change it. Every
//! change is announced as `product.changed` through the outbox, in its transaction.

use crate::domain::{NewProduct, Product, ProductFields};
use crate::store;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_events::Sku;
use cartflow_kit::db::is_unique_violation;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, AppContext, Staff};
use cartflow_messaging::{Cause, Outbox, Tx};

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> Router {
    Router::new()
        .route("/products", get(list).post(create))
        .route("/products/{sku}", get(show).put(replace).delete(remove))
        .with_state(app)
}

/// Stages `product.changed` for `product` and commits.
async fn announce(mut tx: Tx, product: &Product, active: bool) -> ApiResult<()> {
    let changed = product.changed(active).map_err(ApiError::Unprocessable)?;
    tx.publish(&changed).await?;
    tx.commit().await?;
    Ok(())
}

async fn begin(outbox: &Outbox, sku: &str) -> ApiResult<Tx> {
    Ok(outbox.begin_for(Cause::command(sku)).await?)
}

fn not_found(sku: &str) -> ApiError {
    ApiError::NotFound(format!("no product with SKU '{sku}'"))
}

async fn list(State(app): State<AppContext>) -> ApiResult<Json<Vec<Product>>> {
    Ok(Json(store::list(&app.pool).await?))
}

async fn show(
    State(app): State<AppContext>,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<Json<Product>> {
    store::get(&app.pool, sku.as_str())
        .await?
        .map(Json)
        .ok_or_else(|| not_found(sku.as_str()))
}

#[tracing::instrument(skip_all, fields(sku = %body.sku))]
async fn create(
    State(app): State<AppContext>,
    _: Staff,
    ApiJson(body): ApiJson<NewProduct>,
) -> ApiResult<impl IntoResponse> {
    let mut product = body.parse().map_err(ApiError::Unprocessable)?;
    let mut tx = begin(&app.outbox, &product.sku).await?;
    match store::insert(tx.conn(), &product).await {
        Ok(version) => {
            product.version = version;
            announce(tx, &product, true).await?;
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, format!("/products/{}", product.sku))],
                Json(product),
            ))
        }
        Err(e) if is_unique_violation(&e) => Err(ApiError::Conflict(format!(
            "a product with SKU '{}' already exists",
            product.sku
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn replace(
    State(app): State<AppContext>,
    _: Staff,
    ApiPath(sku): ApiPath<Sku>,
    ApiJson(body): ApiJson<ProductFields>,
) -> ApiResult<Json<Product>> {
    let mut product = body.parse(sku).map_err(ApiError::Unprocessable)?;
    let mut tx = begin(&app.outbox, &product.sku).await?;
    product.version = store::update(tx.conn(), &product)
        .await?
        .ok_or_else(|| not_found(&product.sku))?;
    announce(tx, &product, true).await?;
    Ok(Json(product))
}

async fn remove(
    State(app): State<AppContext>,
    _: Staff,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<StatusCode> {
    let mut tx = begin(&app.outbox, sku.as_str()).await?;
    let deleted = store::delete(tx.conn(), sku.as_str())
        .await?
        .ok_or_else(|| not_found(sku.as_str()))?;
    announce(tx, &deleted, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

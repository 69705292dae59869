//! `/inventory` REST routes: stock levels are public to read; staff change them.

use crate::domain::{NewStockItem, SetQuantity, StockItem, check_quantity, crosses_low_stock};
use crate::store;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use cartflow_api::Page;
use cartflow_events::LowStock;
use cartflow_events::Sku;
use cartflow_kit::AppContext;
use cartflow_kit::db::is_unique_violation;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, NoFilters, PageParams, Problem};
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, Staff};
use cartflow_messaging::Cause;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, set_quantity, remove))
        .with_state(app)
}

fn not_found(sku: &str) -> ApiError {
    ApiError::NotFound(format!("no stock item with SKU '{sku}'"))
}

/// Stock levels, by SKU. Public.
#[utoipa::path(get, path = "/inventory", tag = "inventory", params(PageParams),
    responses((status = 200, description = "A page of stock items, by SKU", body = Page<StockItem>)))]
async fn list(
    State(app): State<AppContext>,
    listing: Listing<NoFilters>,
) -> ApiResult<Json<Page<StockItem>>> {
    let page = listing.page;
    let after: Option<String> = page.after()?;
    let rows = store::list(&app.pool, after.as_deref(), page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |item| item.sku.clone())))
}

/// One SKU's stock. Public.
#[utoipa::path(get, path = "/inventory/{sku}", tag = "inventory",
    params(("sku" = Sku, Path, description = "The product's SKU")),
    responses(
        (status = 200, description = "The stock item", body = StockItem),
        (status = 404, description = "No stock item with that SKU", body = Problem, content_type = "application/problem+json")))]
async fn show(
    State(app): State<AppContext>,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<Json<StockItem>> {
    store::get(&app.pool, sku.as_str())
        .await?
        .map(Json)
        .ok_or_else(|| not_found(sku.as_str()))
}

/// Starts keeping stock for a SKU. Staff only.
#[utoipa::path(post, path = "/inventory", tag = "inventory", request_body = NewStockItem,
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = StockItem,
            headers(("Location" = String, description = "The stock item's path"))),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stock for that SKU exists", body = Problem, content_type = "application/problem+json")))]
async fn create(
    State(app): State<AppContext>,
    _: Staff,
    ApiJson(body): ApiJson<NewStockItem>,
) -> ApiResult<impl IntoResponse> {
    let sku = Sku::parse(&body.sku).map_err(|e| ApiError::invalid_field("sku", e))?;
    let quantity = check_quantity("quantity", body.quantity)
        .map_err(|e| ApiError::invalid_field("quantity", e))?;
    let threshold = check_quantity("low_stock_threshold", body.low_stock_threshold.unwrap_or(0))
        .map_err(|e| ApiError::invalid_field("low_stock_threshold", e))?;
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
/// of the low-stock threshold like a sale would. Staff only.
#[utoipa::path(put, path = "/inventory/{sku}", tag = "inventory", request_body = SetQuantity,
    params(("sku" = Sku, Path, description = "The product's SKU")),
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The stock item as it now is", body = StockItem),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stock item with that SKU", body = Problem, content_type = "application/problem+json")))]
async fn set_quantity(
    State(app): State<AppContext>,
    _: Staff,
    ApiPath(sku): ApiPath<Sku>,
    ApiJson(body): ApiJson<SetQuantity>,
) -> ApiResult<Json<StockItem>> {
    let quantity = check_quantity("quantity", body.quantity)
        .map_err(|e| ApiError::invalid_field("quantity", e))?;
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

/// Stops keeping stock for a SKU. Staff only.
#[utoipa::path(delete, path = "/inventory/{sku}", tag = "inventory",
    params(("sku" = Sku, Path, description = "The product's SKU")),
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stock item with that SKU", body = Problem, content_type = "application/problem+json")))]
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

//! `/products` REST routes: the catalog is public to read; staff change it. Every
//! change is announced as `product.changed` through the outbox, in its transaction.

use crate::domain::{NewProduct, Product, ProductFields};
use crate::store;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use cartflow_api::Page;
use cartflow_events::Sku;
use cartflow_kit::db::is_unique_violation;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, NoFilters, PageParams, Problem};
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, AppContext, Staff};
use cartflow_messaging::{Cause, Outbox, Tx};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, replace, remove))
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

/// The catalog, by SKU. Public.
#[utoipa::path(get, path = "/products", tag = "products", params(PageParams),
    responses((status = 200, description = "A page of products, by SKU", body = Page<Product>)))]
async fn list(
    State(app): State<AppContext>,
    listing: Listing<NoFilters>,
) -> ApiResult<Json<Page<Product>>> {
    let page = listing.page;
    let after: Option<String> = page.after()?;
    let rows = store::list(&app.pool, after.as_deref(), page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |p| p.sku.clone())))
}

/// One product. Public.
#[utoipa::path(get, path = "/products/{sku}", tag = "products",
    params(("sku" = Sku, Path, description = "The product's SKU")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No product with that SKU", body = Problem, content_type = "application/problem+json")))]
async fn show(
    State(app): State<AppContext>,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<Json<Product>> {
    store::get(&app.pool, sku.as_str())
        .await?
        .map(Json)
        .ok_or_else(|| not_found(sku.as_str()))
}

/// Adds a product to the catalog and announces it (`product.changed`). Staff only.
#[utoipa::path(post, path = "/products", tag = "products", request_body = NewProduct,
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = Product,
            headers(("Location" = String, description = "The product's path"))),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A product with that SKU exists", body = Problem, content_type = "application/problem+json")))]
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

/// Replaces a product's name, description and price, and announces it. Staff only.
#[utoipa::path(put, path = "/products/{sku}", tag = "products", request_body = ProductFields,
    params(("sku" = Sku, Path, description = "The product's SKU")),
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The product as it now is", body = Product),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No product with that SKU", body = Problem, content_type = "application/problem+json")))]
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

/// Deletes a product and announces it (`active: false`); carts keep their lines'
/// snapshots. Staff only.
#[utoipa::path(delete, path = "/products/{sku}", tag = "products",
    params(("sku" = Sku, Path, description = "The product's SKU")),
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No product with that SKU", body = Problem, content_type = "application/problem+json")))]
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

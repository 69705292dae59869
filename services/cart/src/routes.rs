//! `/cart` REST routes, each acting for the signed-in customer (their latest cart):
//! nobody can see or change another customer's cart.

use crate::addresses;
use crate::catalog::Catalog;
use crate::domain::{self, AddItem, Cart, CartStatus, MAX_LINE_QUANTITY, MAX_LINES, Refusal};
use crate::domain::{CheckoutRequested, ConvertRequest};
use crate::store::{self, Guard};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use cartflow_api::cart::{CheckoutAccepted, CheckoutRequest};
use cartflow_api::payment::holds_card_number;
use cartflow_events::Sku;
use cartflow_kit::http::ApiBytes;
use cartflow_kit::http::Problem;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, CustomerId};
use cartflow_messaging::{Cause, Outbox};
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What cart's routes work with: its pool for reads, its outbox for changes, its copy
/// of the catalog for prices, and the checkout's expiry.
#[derive(Clone)]
pub struct CartState {
    pub pool: PgPool,
    pub outbox: Outbox,
    pub catalog: Catalog,
    /// How long a checkout may stay pending before it is given up.
    pub checkout_expiry: std::time::Duration,
}

pub fn router(state: CartState) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(add_item))
        .routes(routes!(remove_item))
        .routes(routes!(convert))
        .with_state(state)
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        if refusal.is_conflict() {
            ApiError::Conflict(refusal.to_string())
        } else {
            ApiError::Unprocessable(refusal.to_string())
        }
    }
}

/// The caller's latest cart, with its last checkout's outcome. Customers only.
#[utoipa::path(get, path = "/cart", tag = "cart",
    security(("bearer" = []), ("customer_header" = [])),
    responses(
        (status = 200, description = "The cart", body = Cart),
        (status = 403, description = "Not a customer (staff have no cart)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The customer has no cart yet", body = Problem, content_type = "application/problem+json")))]
async fn show(
    State(state): State<CartState>,
    CustomerId(customer): CustomerId,
) -> ApiResult<Json<Cart>> {
    let mut conn = state.pool.acquire().await?;
    let id = store::latest_id(&mut *conn, customer)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("customer {customer} has no cart yet")))?;
    Ok(Json(store::load(&mut conn, id).await?))
}

/// Adds a line at the product's current price (cart's copy of the catalog), or more of
/// a line, which keeps the price it was added at; opens a cart when the customer has
/// none. Customers only.
#[utoipa::path(post, path = "/cart/items", tag = "cart", request_body = AddItem,
    security(("bearer" = []), ("customer_header" = [])),
    responses(
        (status = 200, description = "The cart with the line added", body = Cart),
        (status = 403, description = "Not a customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No product with that SKU", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is in checkout, or the line or cart is full", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The product service was needed for an unknown SKU and did not answer; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
#[tracing::instrument(skip_all, fields(customer_id = %customer))]
async fn add_item(
    State(state): State<CartState>,
    CustomerId(customer): CustomerId,
    ApiJson(body): ApiJson<AddItem>,
) -> ApiResult<Json<Cart>> {
    let line = body.parse().map_err(ApiError::Unprocessable)?;
    // Most adds find an open cart that nobody else is changing and a SKU the catalog
    // copy has on sale: one statement, priced from the copy inside it, no transaction
    // around it. The rest (an unknown or withdrawn SKU; a contended, reopened or full
    // cart) are priced first, then added under the cart's lock.
    let added = store::add_line_at_once(
        &mut *state.pool.acquire().await?,
        customer,
        line.sku.as_str(),
        line.quantity,
        None,
        MAX_LINES,
        MAX_LINE_QUANTITY,
    )
    .await?;
    if let Some(cart) = added {
        // No `Tx` to commit: what an earlier failed publish left goes out now instead.
        state.outbox.publish_leftovers().await;
        return Ok(Json(cart));
    }
    // Before the transaction: no row lock is held while product may be asked.
    let price = state.catalog.price_cents(&state.pool, &line.sku).await?;
    tracing::debug!("SKU not in the copy, or cart busy, not open or full: adding under its lock");
    let mut tx = state.outbox.begin().await?;
    let (cart_id, status) = store::lock_or_create_active(tx.conn(), customer).await?;
    let edit = domain::edit(status)?;
    if edit.reopen {
        store::set_status(tx.conn(), cart_id, CartStatus::Open).await?
    }
    // Added first and checked after, with the cart read back in the same statement: a
    // refusal (rare) rolls the addition back with the transaction.
    let (added, cart) = store::add_to_line(
        tx.conn(),
        cart_id,
        line.sku.as_str(),
        line.quantity,
        price,
        MAX_LINE_QUANTITY,
    )
    .await?;
    match added {
        store::Added::LineFull => return Err(Refusal::LineFull(line.sku).into()),
        store::Added::NewLine => domain::may_add_line(cart.items.len() - 1, false)?,
        store::Added::MoreOfLine => {}
    }
    tx.commit().await?;
    Ok(Json(cart))
}

/// Removes a line. Customers only.
#[utoipa::path(delete, path = "/cart/items/{product_sku}", tag = "cart",
    params(("product_sku" = Sku, Path, description = "The line's SKU")),
    security(("bearer" = []), ("customer_header" = [])),
    responses(
        (status = 200, description = "The cart without the line", body = Cart),
        (status = 403, description = "Not a customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No open cart, or no line for that SKU", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is in checkout", body = Problem, content_type = "application/problem+json")))]
async fn remove_item(
    State(state): State<CartState>,
    CustomerId(customer): CustomerId,
    ApiPath(sku): ApiPath<Sku>,
) -> ApiResult<Json<Cart>> {
    let mut tx = state.outbox.begin().await?;
    let (cart_id, status) = store::lock_active(tx.conn(), customer)
        .await?
        .ok_or_else(|| ApiError::NotFound("there is no open cart".into()))?;
    let edit = domain::edit(status)?;
    if !store::remove_line(tx.conn(), cart_id, sku.as_str()).await? {
        return Err(ApiError::NotFound(format!(
            "the cart has no line for '{sku}'"
        )));
    }
    if edit.reopen {
        store::set_status(tx.conn(), cart_id, CartStatus::Open).await?;
    }
    let cart = store::load(tx.conn(), cart_id).await?;
    tx.commit().await?;
    Ok(Json(cart))
}

/// Reads the checkout's body: `{payment_method, shipping_address?}`. The raw text is
/// searched for a card number before it is parsed, so that not even a parse error
/// (which quotes what it could not read) can carry one into a response or a log.
fn checkout_request(headers: &HeaderMap, body: &[u8]) -> Result<CheckoutRequested, ApiError> {
    let card_data = || {
        ApiError::Unprocessable(
            "the request holds something shaped like a card number: send the payment method token your payment provider issued (such as pm_card_visa), never card data".into(),
        )
    };
    // First, whatever the content type claims: card data is refused as such.
    if holds_card_number(&String::from_utf8_lossy(body)) {
        return Err(card_data());
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "expected a request body with Content-Type: application/json".into(),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::BadRequest("the checkout's body is not valid JSON".into()))?;
    // Decoded, an escaped digit (`\u0034`) is a digit: look again at what was sent.
    if holds_card_number(&value.to_string()) {
        return Err(card_data());
    }
    let request: ConvertRequest = serde_json::from_value(value)
        .map_err(|e| ApiError::Unprocessable(format!("the checkout's body: {e}")))?;
    request.parse().map_err(ApiError::Unprocessable)
}

/// Starts a checkout, which holds the cart against edits while it is pending, and asks
/// inventory to reserve it (payment follows the reservation). The answer arrives as an
/// event; `GET /cart` shows the outcome. Customers only. A body holding anything shaped
/// like a card number is refused (422) and nothing of it is kept or quoted.
#[utoipa::path(post, path = "/cart/convert-to-order", tag = "cart", request_body = CheckoutRequest,
    security(("bearer" = []), ("customer_header" = [])),
    responses(
        (status = 202, description = "The checkout started", body = CheckoutAccepted),
        (status = 403, description = "Not a customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No open cart with lines to convert, or one already in checkout", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(customer_id = %customer))]
async fn convert(
    State(state): State<CartState>,
    CustomerId(customer): CustomerId,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<(StatusCode, Json<CheckoutAccepted>)> {
    let requested = checkout_request(&headers, &body)?;
    let saved = match requested.shipping_address {
        Some(_) => None,
        None => addresses::saved(&state.pool, customer).await?,
    };
    let payment = requested
        .ship_to(saved)
        .map_err(|e| ApiError::invalid_field("shipping_address", e))?;
    let mut tx = state.outbox.begin().await?;
    let expiry = state.checkout_expiry;
    // Started first and checked after, with the lines read in the same statement: a
    // refusal (rare) rolls the start back with the transaction. A cart changed while
    // the first statement waited for it is locked, then started.
    let started =
        match store::begin_checkout(tx.conn(), customer, expiry, &payment, Guard::Unchanged).await?
        {
            Some(started) => started,
            None => {
                let (cart_id, _) = store::lock_active(tx.conn(), customer)
                    .await?
                    .ok_or_else(no_cart_to_convert)?;
                store::begin_checkout(
                    tx.conn(),
                    customer,
                    expiry,
                    &payment,
                    Guard::Locked(cart_id),
                )
                .await?
                .ok_or_else(no_cart_to_convert)?
            }
        };
    domain::convert(started.status_before, started.items.len())?;
    let (cart_id, checkout, items) = (started.cart_id, started.checkout, started.items);
    let request = checkout.request(
        cart_id,
        customer,
        items,
        Some(payment.payment_method),
        Some(payment.shipping_address),
    );
    tx.publish_caused_by(&Cause::command(cart_id), &request)
        .await?;
    tx.commit().await?;
    crate::metrics::checkout_started();
    tracing::info!(%cart_id, checkout_id = %checkout.checkout_id, "checkout requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(CheckoutAccepted {
            cart_id,
            checkout_id: checkout.checkout_id,
            checkout_expires_at: checkout.expires_at,
            status: CartStatus::CheckoutPending,
        }),
    ))
}

fn no_cart_to_convert() -> ApiError {
    ApiError::Conflict("there is no open cart to convert".into())
}

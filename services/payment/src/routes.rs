//! `/payments` REST routes: a customer reads their own payments (someone else's is a
//! 404), staff read all and ask for the reconciliation with the provider.

use crate::domain::Payment;
use crate::provider::Provider;
use crate::reconcile;
use crate::store::{self, PaymentFilter};
use axum::Json;
use axum::extract::State;
use cartflow_api::Page;
use cartflow_api::payment::Reconciliation;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, PageParams, Problem};
use cartflow_kit::{ApiError, ApiPath, ApiResult, Caller, Staff};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Clone)]
pub struct PaymentState {
    pub pool: PgPool,
    pub provider: Provider,
}

pub fn router(state: PaymentState) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(reconciliation))
        .routes(routes!(show))
        .with_state(state)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this customer's (staff; a customer sees only their own anyway).
    customer_id: Option<Uuid>,
    /// Only the payment of this order.
    order_id: Option<Uuid>,
    /// Only the payment of this checkout.
    checkout_id: Option<Uuid>,
}

/// Payments, newest first: the caller's own, or anyone's for staff.
#[utoipa::path(get, path = "/payments", tag = "payments", params(ListQuery, PageParams),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses((status = 200, description = "A page of payments, newest first", body = Page<Payment>)))]
async fn list(
    State(state): State<PaymentState>,
    caller: Caller,
    listing: Listing<ListQuery>,
) -> ApiResult<Json<Page<Payment>>> {
    let q = listing.filters;
    let Ok(customer_id) = caller.list_filter(q.customer_id) else {
        return Ok(Json(Page::last(Vec::new())));
    };
    let filter = PaymentFilter {
        customer_id,
        order_id: q.order_id,
        checkout_id: q.checkout_id,
    };
    let page = listing.page;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let rows = store::list(&state.pool, &filter, after, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |p| (p.created_at, p.id))))
}

/// One payment: the caller's own, or any for staff.
#[utoipa::path(get, path = "/payments/{id}", tag = "payments",
    params(("id" = Uuid, Path, description = "The payment's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 404, description = "No such payment, or not the caller's", body = Problem, content_type = "application/problem+json")))]
async fn show(
    State(state): State<PaymentState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Payment>> {
    store::get(&state.pool, id)
        .await?
        .filter(|payment| caller.may_access(payment.customer_id))
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no payment with id {id}")))
}

/// Compares the payment records with the provider's ledger (staff only): every
/// difference named. Reads the provider's whole list, so it is an operator's tool.
#[utoipa::path(get, path = "/payments/reconciliation", tag = "payments",
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The books compared", body = Reconciliation),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider's ledger could not be read; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn reconciliation(
    State(state): State<PaymentState>,
    _staff: Staff,
) -> ApiResult<Json<Reconciliation>> {
    let records = store::all(&state.pool).await?;
    let ledger = reconcile::Ledger::read(&state.provider)
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: format!("the payment provider's ledger could not be read: {e}"),
            retry_after: Some(5),
        })?;
    Ok(Json(reconcile::compare(&records, &ledger)))
}

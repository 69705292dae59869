//! `/payments` REST routes: a customer reads their own payments (someone else's is a
//! 404), staff read all and ask for the reconciliation with the provider.

use crate::domain::Payment;
use crate::provider::Provider;
use crate::reconcile;
use crate::store::{self, PaymentFilter};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_api::payment::Reconciliation;
use cartflow_kit::{ApiError, ApiPath, ApiQuery, ApiResult, Caller, Staff};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone)]
pub struct PaymentState {
    pub pool: PgPool,
    pub provider: Provider,
}

pub fn router(state: PaymentState) -> Router {
    Router::new()
        .route("/payments", get(list))
        .route("/payments/reconciliation", get(reconciliation))
        .route("/payments/{id}", get(show))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    customer_id: Option<Uuid>,
    order_id: Option<Uuid>,
    checkout_id: Option<Uuid>,
}

async fn list(
    State(state): State<PaymentState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Payment>>> {
    let Ok(customer_id) = caller.list_filter(q.customer_id) else {
        return Ok(Json(Vec::new()));
    };
    let filter = PaymentFilter {
        customer_id,
        order_id: q.order_id,
        checkout_id: q.checkout_id,
    };
    Ok(Json(store::list(&state.pool, &filter).await?))
}

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

//! The payments page's calls: the payment records and the reconciliation with the
//! provider, through the payment service's own routes as staff (the local way; with
//! OpenID Connect sign-in the service refuses it, and the page shows its answer).

use super::Console;
use super::services::{Caller, Reply};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use cartflow_events::Service;
use cartflow_kit::http::ApiResult;

pub fn router() -> Router<Console> {
    Router::new()
        .route("/api/payments", get(list))
        .route("/api/payments/reconciliation", get(reconcile))
}

async fn list(State(console): State<Console>) -> ApiResult<Reply> {
    console
        .inner
        .services
        .get(Service::Payment, "/payments", Caller::Staff)
        .await
}

/// What `cartflow payments reconcile` prints: the payment service reads the provider's
/// ledger and names every difference.
async fn reconcile(State(console): State<Console>) -> ApiResult<Reply> {
    console
        .inner
        .services
        .get(Service::Payment, "/payments/reconciliation", Caller::Staff)
        .await
}

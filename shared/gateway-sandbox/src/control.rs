//! Sandbox-only routes, outside Stripe's `/v1`: read the ledger, take the provider down
//! and bring it back. No key needed: the sandbox only ever runs locally and in tests.

use crate::ledger::Ledger;
use crate::state::Shared;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `POST /sandbox/outage` body and answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Outage {
    pub down: bool,
}

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/sandbox/ledger", get(ledger))
        .route("/sandbox/outage", get(outage).post(set_outage))
        .with_state(shared)
}

async fn ledger(State(shared): State<Arc<Shared>>) -> Json<Ledger> {
    Json(shared.ledger())
}

async fn outage(State(shared): State<Arc<Shared>>) -> Json<Outage> {
    Json(Outage {
        down: shared.lock().down,
    })
}

async fn set_outage(State(shared): State<Arc<Shared>>, Json(outage): Json<Outage>) -> Json<Outage> {
    shared.set_down(outage.down);
    Json(outage)
}

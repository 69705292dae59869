//! The gateway sandbox: a stand-in for the payment provider, speaking the subset of
//! Stripe's PaymentIntents API that cartflow uses (manual capture), with Stripe's
//! request and response shapes.
//!
//! Why: the payment service must be exercised locally and in tests exactly as it will
//! talk to Stripe (the same client, only the URL and the key change), including the
//! failures that matter for money: declines, a provider slower than the client's
//! timeout, a 5xx, an outage, retried calls. It keeps a ledger of what it was asked to
//! do, so that a test (or `cartflow payments reconcile`) can check that nothing was
//! charged twice and that the books balance.
//!
//! - `/v1/payment_intents` (create, list), `/v1/payment_intents/{id}` (retrieve),
//!   `/v1/payment_intents/{id}/capture`, `/v1/payment_intents/{id}/cancel`,
//!   `/v1/refunds` (create, list): behind `Authorization: Bearer sk_test_...`, with
//!   `Idempotency-Key` honoured on every POST as Stripe does.
//! - `/sandbox/ledger` and `/sandbox/outage`: sandbox-only control routes.
//!
//! Test payment method tokens: `pm_card_visa`, `pm_card_mastercard` approve;
//! `pm_card_chargeDeclined`, `pm_card_chargeDeclinedInsufficientFunds` decline;
//! `pm_card_slow` approves but answers the first request for an idempotency key after
//! [`SandboxSettings::slow_ms`]; `pm_card_flaky` answers the first request for an
//! idempotency key with a 500 and creates nothing. Only tokens: no card number is ever
//! accepted, stored or shown (a card is its brand and last four digits).
//!
//! The responses are checked against Stripe's published OpenAPI description
//! (`stripe/subset.json`, cut from it by `stripe/extract.py`) by this crate's tests.
//!
//! Not modelled: the confirm step (`confirm=true` is required), 3-D Secure and other
//! next actions, Stripe's minimum charge amounts, Basic auth, persistence (the ledger
//! lives in memory, for the life of the process).

// serde_json::json! expands recursively; a Charge has some fifty fields.
#![recursion_limit = "256"]

mod api;
pub mod control;
mod idempotency;
pub mod ledger;
mod objects;
mod params;
mod state;

use axum::Router;
use std::future::Future;
use std::sync::Arc;

pub use control::Outage;
pub use ledger::{IntentStatus, Ledger, LedgerCounts, LedgerIntent, LedgerRefund, LedgerTotals};

/// The sandbox's default local port: stripe-mock's, so tools that know it find it.
pub const DEFAULT_PORT: u16 = 12111;

#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// How long `pm_card_slow` keeps the first request for an idempotency key waiting
    /// (default 3000 ms: longer than the payment service's default 2000 ms timeout).
    pub slow_ms: u64,
    /// What a secret key must start with to be accepted (default `sk_test_`).
    pub api_key_prefix: String,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            slow_ms: 3000,
            api_key_prefix: "sk_test_".into(),
        }
    }
}

/// One sandbox: its ledger and settings. Cheap to clone; clones share the ledger.
#[derive(Clone)]
pub struct Sandbox {
    shared: Arc<state::Shared>,
}

impl Sandbox {
    pub fn new(settings: SandboxSettings) -> Self {
        Sandbox {
            shared: Arc::new(state::Shared::new(settings)),
        }
    }

    /// What `GET /sandbox/ledger` answers, read in process.
    pub fn ledger(&self) -> Ledger {
        self.shared.ledger()
    }

    /// What `POST /sandbox/outage` does: while down, every `/v1` call answers 503.
    pub fn set_down(&self, down: bool) {
        self.shared.set_down(down);
    }
}

/// The sandbox's routes: `/v1/...` (Stripe's) and `/sandbox/...` (control).
pub fn router(sandbox: Sandbox) -> Router {
    api::routes(sandbox.shared.clone()).merge(control::routes(sandbox.shared))
}

/// Serves a new sandbox on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: SandboxSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_sandbox(listener, Sandbox::new(settings), shutdown).await
}

/// Serves `sandbox` (keep a clone to read its ledger in process) until `shutdown`.
pub async fn serve_sandbox(
    listener: tokio::net::TcpListener,
    sandbox: Sandbox,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "gateway sandbox listening");
    }
    axum::serve(listener, router(sandbox))
        .with_graceful_shutdown(shutdown)
        .await
}

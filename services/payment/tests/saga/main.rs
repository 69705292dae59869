//! The payment service against real PostgreSQL and the gateway sandbox over HTTP: each
//! saga event in, the provider worker's calls and announcements out, and the sandbox's
//! ledger as the provider's word on what was held, taken and given back.
//!
//! This file holds the service under test and the events it is fed; the tests are in
//! `outcomes` (approved, declined, no usable method), `handover` (steps claimed by the
//! handler and handed to the worker), `provider` (slow, down or
//! unanswered, and two instances), `releases` (holds voided after an expiry or a
//! cancellation) and `reconciliation` (a stray charge named).

mod handover;
mod outcomes;
mod provider;
mod reconciliation;
mod releases;

use cartflow_events::{CheckoutExpired, LineItem, OrderCancelled, OrderCreated, OrderRequested};
use cartflow_gateway_sandbox::{Ledger, Sandbox, SandboxSettings};
use cartflow_kit::{AppContext, Env, ServiceApp};
use cartflow_messaging::Outbox;
use cartflow_testkit::{HandlerHarness, eventually};
use payment_service::PaymentApp;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The payment service on its own database, its worker running, paying through a
/// sandbox of its own.
struct Payments {
    harness: HandlerHarness,
    url: String,
    sandbox: Sandbox,
    _stop: tokio_util::sync::DropGuard,
}

async fn payments(settings: &[(&str, &str)], slow_ms: u64) -> Payments {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = Sandbox::new(SandboxSettings {
        slow_ms,
        ..Default::default()
    });
    let stop = CancellationToken::new();
    let serving = sandbox.clone();
    let stopped = stop.clone();
    tokio::spawn(async move {
        cartflow_gateway_sandbox::serve_sandbox(listener, serving, async move {
            stopped.cancelled().await
        })
        .await
    });
    let mut pairs = vec![
        ("PAYMENT_PROVIDER_URL", url.as_str()),
        ("PAYMENT_PROVIDER_KEY", "sk_test_payments"),
        ("PAYMENT_WORKER_POLL_MS", "50"),
    ];
    pairs.extend_from_slice(settings);
    let pairs: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let app = PaymentApp::from_env(&Env::from_pairs(pairs)).expect("payment settings");
    let harness = HandlerHarness::for_app(&app).await;
    let ctx = AppContext {
        service: PaymentApp::SERVICE,
        pool: harness.pool().clone(),
        outbox: Outbox::new(PaymentApp::SERVICE, harness.pool().clone()),
        shutdown: stop.clone(),
    };
    for worker in app.workers(ctx) {
        tokio::spawn(worker);
    }
    Payments {
        harness,
        url: url.clone(),
        sandbox,
        _stop: stop.drop_guard(),
    }
}

fn requested(payment_method: Option<&str>) -> OrderRequested {
    OrderRequested {
        cart_id: Uuid::new_v4(),
        checkout_id: Some(Uuid::new_v4()),
        expires_at: None,
        customer_id: Uuid::new_v4(),
        items: vec![LineItem {
            product_sku: cartflow_events::Sku::parse("KB-1").unwrap(),
            quantity: 2,
            unit_price_cents: 1250,
        }],
        payment_method: payment_method.map(str::to_string),
        shipping_address: None,
    }
}

fn ordered(checkout: &OrderRequested, order_id: Uuid) -> OrderCreated {
    OrderCreated {
        order_id,
        cart_id: checkout.cart_id,
        checkout_id: checkout.checkout_id,
        customer_id: checkout.customer_id,
        items: checkout.items.clone(),
        total_cents: 2500,
        shipping_address: None,
    }
}

fn cancelled(checkout: &OrderRequested, order_id: Uuid) -> OrderCancelled {
    OrderCancelled {
        order_id,
        cart_id: checkout.cart_id,
        checkout_id: checkout.checkout_id,
        customer_id: checkout.customer_id,
        items: checkout.items.clone(),
        reason: "changed my mind".into(),
    }
}

fn expired(checkout: &OrderRequested) -> CheckoutExpired {
    CheckoutExpired {
        checkout_id: checkout.checkout_id.unwrap(),
        cart_id: checkout.cart_id,
        customer_id: checkout.customer_id,
        items: checkout.items.clone(),
    }
}

impl Payments {
    async fn status(&self, checkout_id: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM payments WHERE checkout_id = $1")
            .bind(checkout_id)
            .fetch_optional(self.harness.pool())
            .await
            .unwrap()
    }

    async fn reaches(&self, checkout_id: Uuid, status: &str) {
        eventually(&format!("payment of {checkout_id} {status}"), || async {
            (self.status(checkout_id).await.as_deref() == Some(status)).then_some(())
        })
        .await
    }

    /// The checkout's request, processed until its payment is authorized.
    async fn authorized(&self, checkout: &OrderRequested) {
        self.harness.processed(checkout).await;
        self.reaches(checkout.checkout_id.unwrap(), "authorized")
            .await;
    }

    /// The checkout's request, then its order: authorized, then captured.
    async fn authorized_then_captured(&self, checkout: &OrderRequested) {
        let checkout_id = checkout.checkout_id.unwrap();
        self.authorized(checkout).await;
        self.harness
            .processed(&ordered(checkout, Uuid::new_v4()))
            .await;
        self.reaches(checkout_id, "captured").await;
    }

    /// Applies `events` as one batch, insisting that every message was processed in
    /// one go (no fallback to one by one).
    async fn processed_together<E: cartflow_events::Event + serde::Serialize>(&self, events: &[E]) {
        self.processed_mixed(events.iter().map(cartflow_testkit::message).collect())
            .await;
    }

    /// [`Payments::processed_together`] for messages of any topics, in the order given.
    async fn processed_mixed(&self, messages: Vec<cartflow_messaging::Incoming>) {
        let applied = self.harness.deliver_mixed(messages).await.unwrap();
        assert!(
            applied
                .iter()
                .all(|a| matches!(a, Ok(cartflow_messaging::consumer::Outcome::Processed))),
            "{applied:?}"
        );
        assert_eq!(self.harness.fallbacks(), 0, "applied in one go");
    }

    fn ledger(&self) -> Ledger {
        self.sandbox.ledger()
    }

    /// A client of the same provider with a key of its own: somebody acting by hand.
    fn by_hand(&self) -> payment_service::provider::Provider {
        let settings = payment_service::provider::ProviderSettings::from_env(&Env::from_pairs([
            ("PAYMENT_PROVIDER_URL", self.url.as_str()),
            ("PAYMENT_PROVIDER_KEY", "sk_test_by_hand"),
        ]))
        .unwrap();
        payment_service::provider::Provider::new(settings).unwrap()
    }

    /// The provider's intent of the only payment.
    async fn intent_id(&self) -> String {
        sqlx::query_scalar("SELECT intent_id FROM payments")
            .fetch_one(self.harness.pool())
            .await
            .unwrap()
    }
}

//! The payment service against real PostgreSQL and the gateway sandbox over HTTP: each
//! saga event in, the provider worker's calls and announcements out, and the sandbox's
//! ledger as the provider's word on what was held, taken and given back.

use cartflow_events::{
    CheckoutExpired, LineItem, OrderCancelled, OrderCreated, PaymentAuthorized, PaymentCaptured,
    PaymentDeclined, PaymentRefunded, StockAvailable,
};
use cartflow_gateway_sandbox::{Ledger, Sandbox, SandboxSettings};
use cartflow_kit::{AppContext, Env, ServiceApp};
use cartflow_messaging::Outbox;
use cartflow_testkit::{HandlerHarness, eventually};
use payment_service::PaymentApp;
use std::time::Duration;
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

fn reserved(payment_method: Option<&str>) -> StockAvailable {
    StockAvailable {
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
        total_cents: Some(2500),
        shipping_address: None,
    }
}

fn ordered(reserved: &StockAvailable, order_id: Uuid) -> OrderCreated {
    OrderCreated {
        order_id,
        cart_id: reserved.cart_id,
        checkout_id: reserved.checkout_id,
        customer_id: reserved.customer_id,
        items: reserved.items.clone(),
        total_cents: 2500,
        shipping_address: None,
    }
}

fn cancelled(reserved: &StockAvailable, order_id: Uuid) -> OrderCancelled {
    OrderCancelled {
        order_id,
        cart_id: reserved.cart_id,
        checkout_id: reserved.checkout_id,
        customer_id: reserved.customer_id,
        items: reserved.items.clone(),
        reason: "changed my mind".into(),
    }
}

fn expired(reserved: &StockAvailable) -> CheckoutExpired {
    CheckoutExpired {
        checkout_id: reserved.checkout_id.unwrap(),
        cart_id: reserved.cart_id,
        customer_id: reserved.customer_id,
        items: reserved.items.clone(),
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

#[tokio::test]
async fn an_approved_checkout_is_authorized_captured_and_refunded_once_each() {
    let payments = payments(&[], 3000).await;
    let checkout = reserved(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    payments.reaches(checkout_id, "authorized").await;
    let authorized = payments.harness.staged::<PaymentAuthorized>().await;
    assert_eq!(authorized.len(), 1);
    assert_eq!(authorized[0].amount_cents, 2500);
    let card = authorized[0]
        .card
        .clone()
        .expect("the card's brand and last four");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
    assert_eq!(payments.ledger().totals.capturable, 2500);

    // The cart re-sent its request: the authorization is announced again, not made again.
    payments.harness.processed(&checkout).await;
    assert_eq!(
        payments.harness.staged::<PaymentAuthorized>().await.len(),
        2
    );

    let order_id = Uuid::new_v4();
    payments
        .harness
        .processed(&ordered(&checkout, order_id))
        .await;
    payments.reaches(checkout_id, "captured").await;
    payments
        .harness
        .processed(&ordered(&checkout, order_id))
        .await;
    let captured = payments.harness.staged::<PaymentCaptured>().await;
    assert_eq!(captured.len(), 1, "one receipt");
    assert_eq!(
        (captured[0].order_id, captured[0].amount_cents),
        (order_id, 2500)
    );

    payments
        .harness
        .processed(&cancelled(&checkout, order_id))
        .await;
    payments.reaches(checkout_id, "refunded").await;
    payments
        .harness
        .processed(&cancelled(&checkout, order_id))
        .await;
    let refunded = payments.harness.staged::<PaymentRefunded>().await;
    assert_eq!(refunded.len(), 1, "one refund notice");

    let ledger = payments.ledger();
    assert_eq!(
        (
            ledger.counts.authorizations,
            ledger.counts.captures,
            ledger.counts.refunds
        ),
        (1, 1, 1),
        "{ledger:?}"
    );
    assert_eq!(
        (
            ledger.totals.captured,
            ledger.totals.refunded,
            ledger.totals.net
        ),
        (2500, 2500, 0)
    );
    let (status, report) = payments
        .harness
        .request("GET", "/payments/reconciliation", None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["differences"], serde_json::json!([]), "{report}");
    assert_eq!(report["records_net_cents"], 0);
}

#[tokio::test]
async fn declines_carry_the_providers_code_and_hold_nothing() {
    let payments = payments(&[], 3000).await;
    for (token, code) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
    ] {
        let checkout = reserved(Some(token));
        payments.harness.processed(&checkout).await;
        payments
            .reaches(checkout.checkout_id.unwrap(), "declined")
            .await;
        let declined = payments.harness.staged::<PaymentDeclined>().await;
        let this = declined
            .iter()
            .find(|d| Some(d.checkout_id) == checkout.checkout_id)
            .expect("the decline is announced");
        assert_eq!(this.reason, "card_declined");
        assert_eq!(this.decline_code.as_deref(), Some(code));
        assert_eq!(this.items, checkout.items, "inventory releases these lines");
    }
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.declines, ledger.counts.authorizations),
        (2, 0)
    );
    assert_eq!(ledger.totals.capturable, 0);
    assert!(
        payments
            .harness
            .staged::<PaymentAuthorized>()
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_checkout_without_a_usable_payment_method_is_declined_without_asking_the_provider() {
    let payments = payments(&[], 3000).await;
    let missing = reserved(None);
    let card_number = reserved(Some("4242424242424242"));
    payments.harness.processed(&missing).await;
    payments.harness.processed(&card_number).await;
    let declined = payments.harness.staged::<PaymentDeclined>().await;
    let reasons: Vec<&str> = declined.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["payment_method_missing", "payment_method_invalid"]
    );
    assert!(
        payments.ledger().intents.is_empty(),
        "the provider was not asked"
    );
    // Nothing shaped like a card number is kept, in any column.
    let dump: String = sqlx::query_scalar("SELECT string_agg(p::text, ' ') FROM payments p")
        .fetch_one(payments.harness.pool())
        .await
        .unwrap();
    assert!(!cartflow_api::payment::holds_card_number(&dump), "{dump}");
}

/// The provider answers past the client's time-out: the call is retried with the same
/// idempotency key, and the provider authorizes once.
#[tokio::test]
async fn a_provider_slower_than_the_timeout_authorizes_once() {
    let payments = payments(
        &[("PROVIDER_TIMEOUT_MS", "300"), ("PROVIDER_RETRIES", "0")],
        800,
    )
    .await;
    let checkout = reserved(Some("pm_card_slow"));
    payments.harness.processed(&checkout).await;
    payments
        .reaches(checkout.checkout_id.unwrap(), "authorized")
        .await;
    let ledger = payments.ledger();
    assert_eq!(ledger.intents.len(), 1, "{ledger:?}");
    assert_eq!(ledger.counts.authorizations, 1);
    assert_eq!(
        payments.harness.staged::<PaymentAuthorized>().await.len(),
        1
    );
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM payments")
        .fetch_one(payments.harness.pool())
        .await
        .unwrap();
    assert!(
        attempts >= 2,
        "the first call timed out and was made again ({attempts})"
    );
}

/// Two instances of the payment service, one database: a step one worker has claimed
/// is not asked again by the other while its call is out (the provider sees each
/// request once, none repeated under its key).
#[tokio::test]
async fn a_claimed_step_is_not_asked_again_by_another_instance() {
    let payments = payments(&[], 600).await;
    // A second instance: its own worker (polling every 50 ms) on the same database.
    let env = Env::from_pairs([
        ("PAYMENT_PROVIDER_URL", payments.url.as_str()),
        ("PAYMENT_PROVIDER_KEY", "sk_test_payments"),
        ("PAYMENT_WORKER_POLL_MS", "50"),
    ]);
    let second = PaymentApp::from_env(&env).expect("payment settings");
    let stop = CancellationToken::new();
    let ctx = AppContext {
        service: PaymentApp::SERVICE,
        pool: payments.harness.pool().clone(),
        outbox: Outbox::new(PaymentApp::SERVICE, payments.harness.pool().clone()),
        shutdown: stop.clone(),
    };
    for worker in second.workers(ctx) {
        tokio::spawn(worker);
    }
    let _stop = stop.drop_guard();

    let checkout = reserved(Some("pm_card_slow"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    payments.reaches(checkout_id, "authorized").await;
    payments
        .harness
        .processed(&ordered(&checkout, Uuid::new_v4()))
        .await;
    payments.reaches(checkout_id, "captured").await;
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.captures),
        (1, 1),
        "{ledger:?}"
    );
    assert_eq!(
        ledger.counts.repeated, 0,
        "no call was made twice while the first was out: {ledger:?}"
    );
}

/// A provider that is down: the authorization waits and retries, and goes through
/// once the provider is back.
#[tokio::test]
async fn an_authorization_waits_out_a_provider_outage() {
    let payments = payments(
        &[
            ("PROVIDER_RETRIES", "0"),
            ("PROVIDER_BREAKER_OPEN_MS", "200"),
        ],
        3000,
    )
    .await;
    payments.sandbox.set_down(true);
    let checkout = reserved(Some("pm_card_mastercard"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    eventually("a failed try recorded", || async {
        let (attempts, error): (i32, Option<String>) =
            sqlx::query_as("SELECT attempts, last_error FROM payments WHERE checkout_id = $1")
                .bind(checkout_id)
                .fetch_one(payments.harness.pool())
                .await
                .unwrap();
        (attempts >= 1 && error.is_some()).then_some(())
    })
    .await;
    assert_eq!(
        payments.status(checkout_id).await.as_deref(),
        Some("authorizing")
    );
    payments.sandbox.set_down(false);
    payments.reaches(checkout_id, "authorized").await;
    assert_eq!(payments.ledger().counts.authorizations, 1);
}

/// An authorization the provider has not answered for its key's lifetime is not asked
/// again (a call with a forgotten key could hold the money twice): it fails for an
/// operator, and nothing is asked of the provider once it is back.
#[tokio::test]
async fn an_authorization_unanswered_for_its_keys_lifetime_is_not_asked_again() {
    let payments = payments(
        &[
            ("PROVIDER_RETRIES", "0"),
            ("PROVIDER_BREAKER_OPEN_MS", "200"),
        ],
        3000,
    )
    .await;
    payments.sandbox.set_down(true);
    let checkout = reserved(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    eventually("a failed try recorded", || async {
        let attempts: i32 =
            sqlx::query_scalar("SELECT attempts FROM payments WHERE checkout_id = $1")
                .bind(checkout_id)
                .fetch_one(payments.harness.pool())
                .await
                .unwrap();
        (attempts >= 1).then_some(())
    })
    .await;
    // First asked 23 hours ago.
    sqlx::query("UPDATE payments SET created_at = now() - interval '23 hours 1 minute'")
        .execute(payments.harness.pool())
        .await
        .unwrap();
    payments.reaches(checkout_id, "failed").await;
    let error: String =
        sqlx::query_scalar("SELECT last_error FROM payments WHERE checkout_id = $1")
            .bind(checkout_id)
            .fetch_one(payments.harness.pool())
            .await
            .unwrap();
    assert!(error.contains("idempotency key's lifetime"), "{error}");
    payments.sandbox.set_down(false);
    assert_eq!(payments.ledger().counts.authorizations, 0);
    assert_eq!(
        payments.status(checkout_id).await.as_deref(),
        Some("failed")
    );
}

/// The checkout is given up while its authorization is out: the hold is released
/// when it arrives and never announced, so no order can be made from it.
#[tokio::test]
async fn an_authorization_that_lands_after_the_expiry_is_voided_not_announced() {
    let payments = payments(&[("PROVIDER_TIMEOUT_MS", "2000")], 700).await;
    let checkout = reserved(Some("pm_card_slow"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    eventually("the authorization is out", || async {
        (!payments.ledger().intents.is_empty() || payments.status(checkout_id).await.is_some())
            .then_some(())
    })
    .await;
    payments.harness.processed(&expired(&checkout)).await;
    payments.reaches(checkout_id, "voided").await;
    assert!(
        payments
            .harness
            .staged::<PaymentAuthorized>()
            .await
            .is_empty()
    );
    let ledger = payments.ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.voids),
        (1, 1),
        "{ledger:?}"
    );
    assert_eq!(ledger.totals.capturable, 0, "nothing held");
}

/// Given up before payment heard of it: a late reservation asks the provider nothing.
#[tokio::test]
async fn a_checkout_given_up_first_is_never_authorized() {
    let payments = payments(&[], 3000).await;
    let checkout = reserved(Some("pm_card_visa"));
    payments.harness.processed(&expired(&checkout)).await;
    payments.harness.processed(&checkout).await;
    assert_eq!(
        payments
            .status(checkout.checkout_id.unwrap())
            .await
            .as_deref(),
        Some("abandoned")
    );
    // Give the worker a chance it must not take.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(payments.ledger().intents.is_empty());
}

/// An authorized checkout given up (the order was never made) releases its hold; a
/// cancelled order that was never captured is voided, not refunded.
#[tokio::test]
async fn holds_without_an_order_are_voided() {
    let payments = payments(&[], 3000).await;
    let checkout = reserved(Some("pm_card_visa"));
    payments.harness.processed(&checkout).await;
    payments
        .reaches(checkout.checkout_id.unwrap(), "authorized")
        .await;
    payments.harness.processed(&expired(&checkout)).await;
    payments
        .reaches(checkout.checkout_id.unwrap(), "voided")
        .await;
    let ledger = payments.ledger();
    assert_eq!(
        (
            ledger.counts.voids,
            ledger.totals.capturable,
            ledger.totals.captured
        ),
        (1, 0, 0)
    );
}

/// The reconciliation names money the provider took that no record knows.
#[tokio::test]
async fn the_reconciliation_names_a_stray_charge() {
    use payment_service::provider::{Authorization, Authorize};
    let payments = payments(&[], 3000).await;
    let checkout = reserved(Some("pm_card_visa"));
    payments.harness.processed(&checkout).await;
    payments
        .reaches(checkout.checkout_id.unwrap(), "authorized")
        .await;
    // Somebody charged a card with the key by hand.
    let by_hand = payments.by_hand();
    let Authorization::Approved { intent_id, .. } = by_hand
        .authorize(&Authorize {
            idempotency_key: "by-hand".into(),
            amount_cents: 999,
            currency: "usd".into(),
            payment_method: "pm_card_visa".into(),
            checkout_id: Uuid::new_v4().to_string(),
        })
        .await
        .unwrap()
    else {
        panic!("the visa test card approves")
    };
    by_hand
        .capture(&intent_id, "by-hand-capture")
        .await
        .unwrap();
    let (status, report) = payments
        .harness
        .request("GET", "/payments/reconciliation", None)
        .await;
    assert_eq!(status, 200, "{report}");
    let differences = report["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{report}");
    assert_eq!(differences[0]["intent_id"], intent_id.as_str());
    assert!(
        differences[0]["problem"]
            .as_str()
            .unwrap()
            .contains("no payment record knows")
    );
    assert_eq!(
        (
            report["records_net_cents"].as_i64(),
            report["provider_net_cents"].as_i64()
        ),
        (Some(0), Some(999))
    );
    // Customers may not ask for it.
    let (status, _) = payments
        .harness
        .request_as(
            &[("x-customer-id", &Uuid::new_v4().to_string())],
            "GET",
            "/payments/reconciliation",
            None,
        )
        .await;
    assert_eq!(status, 403);
}

/// Released at the provider behind cartflow's back (by hand, or lapsed): the void is
/// refused, the intent says canceled, and the payment is recorded voided.
#[tokio::test]
async fn a_void_of_an_intent_already_canceled_is_recorded_voided() {
    let payments = payments(&[], 3000).await;
    let checkout = reserved(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    payments.reaches(checkout_id, "authorized").await;
    let intent_id = payments.intent_id().await;
    let by_hand = payments.by_hand();
    by_hand.cancel(&intent_id, "by-hand-void").await.unwrap();
    payments.harness.processed(&expired(&checkout)).await;
    payments.reaches(checkout_id, "voided").await;
    let (status, report) = payments
        .harness
        .request("GET", "/payments/reconciliation", None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["differences"], serde_json::json!([]), "{report}");
}

/// The order is cancelled while its capture waits out an outage, and the provider then
/// refuses the capture (the hold was released meanwhile): nothing was taken, so the
/// payment ends voided, not failed, and no receipt goes out.
#[tokio::test]
async fn a_capture_refused_for_a_cancelled_order_ends_voided() {
    let payments = payments(
        &[
            ("PROVIDER_RETRIES", "0"),
            ("PROVIDER_BREAKER_OPEN_MS", "200"),
        ],
        3000,
    )
    .await;
    let checkout = reserved(Some("pm_card_visa"));
    let checkout_id = checkout.checkout_id.unwrap();
    payments.harness.processed(&checkout).await;
    payments.reaches(checkout_id, "authorized").await;
    let intent_id = payments.intent_id().await;
    let by_hand = payments.by_hand();
    by_hand.cancel(&intent_id, "by-hand-void").await.unwrap();
    payments.sandbox.set_down(true);
    let order_id = Uuid::new_v4();
    payments
        .harness
        .processed(&ordered(&checkout, order_id))
        .await;
    payments.reaches(checkout_id, "capturing").await;
    payments
        .harness
        .processed(&cancelled(&checkout, order_id))
        .await;
    payments.sandbox.set_down(false);
    payments.reaches(checkout_id, "voided").await;
    assert!(
        payments
            .harness
            .staged::<PaymentCaptured>()
            .await
            .is_empty()
    );
    assert_eq!(payments.ledger().totals.captured, 0);
}

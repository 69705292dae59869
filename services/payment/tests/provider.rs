//! The provider client against the real gateway sandbox over HTTP (127.0.0.1:0, one
//! sandbox per test), its ledger read through `GET /sandbox/ledger`.

use cartflow_gateway_sandbox::{IntentStatus as Held, Ledger, SandboxSettings};
use cartflow_kit::config::Env;
use payment_service::provider::{
    Authorization, Authorize, IntentStatus, Provider, ProviderError, ProviderSettings,
};
use std::time::{Duration, Instant};

struct Sandbox {
    url: String,
    http: reqwest::Client,
}

impl Sandbox {
    async fn start(slow_ms: u64) -> Sandbox {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let settings = SandboxSettings {
            slow_ms,
            ..SandboxSettings::default()
        };
        tokio::spawn(cartflow_gateway_sandbox::serve(
            listener,
            settings,
            std::future::pending(),
        ));
        Sandbox {
            url,
            http: reqwest::Client::new(),
        }
    }

    /// A client for this sandbox; `pairs` set `PROVIDER_*` and the like.
    fn provider(&self, pairs: &[(&str, &str)]) -> Provider {
        let mut env = Env::from_pairs(pairs.iter().copied());
        env.set("PAYMENT_PROVIDER_URL", self.url.as_str());
        Provider::new(ProviderSettings::from_env(&env).expect("settings")).unwrap()
    }

    async fn ledger(&self) -> Ledger {
        let url = format!("{}/sandbox/ledger", self.url);
        let response = self.http.get(url).send().await.unwrap();
        response.error_for_status().unwrap().json().await.unwrap()
    }

    async fn set_down(&self, down: bool) {
        let url = format!("{}/sandbox/outage", self.url);
        let body = serde_json::json!({ "down": down });
        let response = self.http.post(url).json(&body).send().await.unwrap();
        response.error_for_status().unwrap();
    }
}

fn authorize(token: &str, amount_cents: i64) -> Authorize {
    let checkout_id = uuid::Uuid::new_v4().to_string();
    Authorize {
        idempotency_key: format!("authorize-{checkout_id}"),
        amount_cents,
        currency: "USD".into(),
        payment_method: token.into(),
        checkout_id,
    }
}

fn approved(answer: Result<Authorization, ProviderError>) -> String {
    match answer {
        Ok(Authorization::Approved { intent_id, .. }) => intent_id,
        other => panic!("not approved: {other:?}"),
    }
}

#[tokio::test]
async fn an_approval_reports_the_brand_and_last_four() {
    let sandbox = Sandbox::start(3000).await;
    let provider = sandbox.provider(&[]);
    for (token, brand, last4) in [
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_mastercard", "mastercard", "4444"),
    ] {
        let request = authorize(token, 2599);
        let answer = provider.authorize(&request).await.unwrap();
        let Authorization::Approved {
            intent_id,
            amount_cents,
            brand: got_brand,
            last4: got_last4,
        } = answer
        else {
            panic!("{token}: {answer:?}");
        };
        assert_eq!(amount_cents, 2599);
        assert_eq!(
            (got_brand.as_deref(), got_last4.as_deref()),
            (Some(brand), Some(last4))
        );

        let intent = provider.retrieve(&intent_id).await.unwrap();
        assert_eq!(intent.status, IntentStatus::RequiresCapture);
        assert_eq!(intent.amount_capturable_cents, 2599);
        assert_eq!(intent.currency, "usd");
        assert_eq!(
            intent.checkout_id.as_deref(),
            Some(request.checkout_id.as_str())
        );
        assert_eq!(intent.card.and_then(|c| c.last4).as_deref(), Some(last4));
    }
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.counts.authorizations, 2);
    assert_eq!(ledger.totals.capturable, 2 * 2599);
}

#[tokio::test]
async fn a_decline_carries_the_providers_codes() {
    let sandbox = Sandbox::start(3000).await;
    let provider = sandbox.provider(&[]);
    for (token, expected) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
    ] {
        match provider.authorize(&authorize(token, 1000)).await {
            Ok(Authorization::Declined {
                intent_id,
                code,
                decline_code,
                message,
            }) => {
                assert!(intent_id.is_some_and(|id| id.starts_with("pi_")));
                assert_eq!(code, "card_declined");
                assert_eq!(decline_code.as_deref(), Some(expected));
                assert!(!message.is_empty());
            }
            other => panic!("{token}: {other:?}"),
        }
    }
    let ledger = sandbox.ledger().await;
    assert_eq!((ledger.counts.declines, ledger.totals.capturable), (2, 0));
}

#[tokio::test]
async fn a_provider_slower_than_the_timeout_charges_once() {
    // The sandbox answers the first request after 1000 ms; the client gives up on each
    // attempt after 300 ms and retries with the same key (409 while the first runs),
    // until the stored answer is there.
    let sandbox = Sandbox::start(1000).await;
    let patient = sandbox.provider(&[
        ("PROVIDER_TIMEOUT_MS", "300"),
        ("PROVIDER_RETRIES", "6"),
        ("PROVIDER_BACKOFF_MS", "100"),
    ]);
    let started = Instant::now();
    let request = authorize("pm_card_slow", 4100);
    let intent_id = approved(patient.authorize(&request).await);
    assert!(started.elapsed() >= Duration::from_millis(1000));
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 1);
    assert_eq!(ledger.intents[0].id, intent_id);

    // A client that gives up altogether gets a transient error; asked again later with
    // the same key, it gets the one intent.
    let hasty = sandbox.provider(&[("PROVIDER_TIMEOUT_MS", "300"), ("PROVIDER_RETRIES", "0")]);
    let request = authorize("pm_card_slow", 4200);
    let error = hasty.authorize(&request).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    // Asked again until the first request, still running at the sandbox, has its answer
    // (meanwhile the same key is "in flight": a transient error, and nothing charged).
    let deadline = Instant::now() + Duration::from_secs(10);
    let later = loop {
        match hasty.authorize(&request).await {
            Err(error) if error.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answer => break approved(answer),
        }
    };
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 2);
    assert_eq!(ledger.intents[1].id, later);
    assert_eq!(ledger.counts.authorizations, 2);
}

#[tokio::test]
async fn a_5xx_once_ends_approved_with_one_intent() {
    let sandbox = Sandbox::start(3000).await;
    let provider = sandbox.provider(&[("PROVIDER_BACKOFF_MS", "10")]);
    let intent_id = approved(provider.authorize(&authorize("pm_card_flaky", 990)).await);
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 1);
    assert_eq!(ledger.intents[0].id, intent_id);
    assert_eq!(ledger.intents[0].status, Held::RequiresCapture);
}

#[tokio::test]
async fn capture_cancel_and_refund_retried_with_their_keys_happen_once() {
    let sandbox = Sandbox::start(3000).await;
    let provider = sandbox.provider(&[]);
    let paid = approved(provider.authorize(&authorize("pm_card_visa", 5000)).await);
    let voided = approved(
        provider
            .authorize(&authorize("pm_card_mastercard", 700))
            .await,
    );

    // Capture, retried.
    let first = provider.capture(&paid, "capture-1").await.unwrap();
    let again = provider.capture(&paid, "capture-1").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.status, IntentStatus::Succeeded);
    assert_eq!(first.amount_received_cents, 5000);
    assert_eq!(first.card.and_then(|c| c.brand).as_deref(), Some("visa"));
    // With another key it is a second capture, which the provider refuses.
    match provider.capture(&paid, "capture-2").await {
        Err(ProviderError::Rejected {
            status: 400, code, ..
        }) => {
            assert_eq!(code.as_deref(), Some("payment_intent_unexpected_state"));
        }
        other => panic!("{other:?}"),
    }

    // Refunds, retried; then the rest; then nothing is left.
    let part = provider.refund(&paid, 2000, "refund-1").await.unwrap();
    let part_again = provider.refund(&paid, 2000, "refund-1").await.unwrap();
    assert_eq!(part, part_again);
    assert_eq!(part.status.as_deref(), Some("succeeded"));
    let rest = provider.refund(&paid, 3000, "refund-2").await.unwrap();
    assert_ne!(rest.id, part.id);
    let nothing_left = provider.refund(&paid, 1, "refund-3").await.unwrap_err();
    assert!(matches!(
        nothing_left,
        ProviderError::Rejected { status: 400, .. }
    ));

    // Void, retried.
    let canceled = provider.cancel(&voided, "cancel-1").await.unwrap();
    assert_eq!(
        provider.cancel(&voided, "cancel-1").await.unwrap(),
        canceled
    );
    assert_eq!(canceled.status, IntentStatus::Canceled);

    let ledger = sandbox.ledger().await;
    let counts = &ledger.counts;
    assert_eq!((counts.captures, counts.refunds, counts.voids), (1, 2, 1));
    assert_eq!(
        (
            ledger.totals.captured,
            ledger.totals.refunded,
            ledger.totals.net
        ),
        (5000, 5000, 0)
    );
    assert_eq!(ledger.totals.capturable, 0);
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_answers_at_once() {
    let sandbox = Sandbox::start(3000).await;
    let provider = sandbox.provider(&[
        ("PROVIDER_RETRIES", "1"),
        ("PROVIDER_BACKOFF_MS", "10"),
        ("PROVIDER_BREAKER_FAILURES", "3"),
        ("PROVIDER_BREAKER_OPEN_MS", "500"),
    ]);
    sandbox.set_down(true).await;
    let request = authorize("pm_card_visa", 1500);
    // Two calls, four attempts at most: the third failure opens the breaker.
    for _ in 0..2 {
        let error = provider.authorize(&request).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
    }
    let asked = Instant::now();
    let refused = provider.authorize(&request).await.unwrap_err();
    assert!(
        asked.elapsed() < Duration::from_millis(1000),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        matches!(&refused, ProviderError::Transient(m) if m.starts_with("circuit open")),
        "{refused}"
    );
    assert!(sandbox.ledger().await.intents.is_empty());

    // The provider is back; after the open period one trial call goes through.
    sandbox.set_down(false).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    approved(provider.authorize(&request).await);
    assert_eq!(sandbox.ledger().await.intents.len(), 1);
}

#[tokio::test]
async fn the_lists_follow_every_page() {
    let sandbox = Sandbox::start(3000).await;
    let mut env = Env::from_pairs([("PAYMENT_PROVIDER_URL", sandbox.url.as_str())]);
    env.set("PROVIDER_RETRIES", "0");
    let mut settings = ProviderSettings::from_env(&env).unwrap();
    settings.page_size = 2;
    let provider = Provider::new(settings).unwrap();
    let mut ids = Vec::new();
    for amount in [1000, 1100, 1200, 1300, 1400] {
        let id = approved(provider.authorize(&authorize("pm_card_visa", amount)).await);
        if amount >= 1200 {
            provider
                .capture(&id, &format!("capture-{id}"))
                .await
                .unwrap();
            provider
                .refund(&id, 100, &format!("refund-{id}"))
                .await
                .unwrap();
        }
        ids.push(id);
    }

    let intents = provider.list_intents().await.unwrap();
    let mut listed: Vec<String> = intents.iter().map(|i| i.id.clone()).collect();
    listed.reverse();
    assert_eq!(listed, ids, "every intent, newest first");
    let refunds = provider.list_refunds().await.unwrap();
    assert_eq!(refunds.len(), 3);
    assert_eq!(refunds.iter().map(|r| r.amount_cents).sum::<i64>(), 300);
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.totals.refunded, 300);
}

#[tokio::test]
async fn a_key_the_provider_refuses_is_rejected_not_retried() {
    let sandbox = Sandbox::start(3000).await;
    let provider = sandbox.provider(&[("PAYMENT_PROVIDER_KEY", "sk_other_not_for_the_sandbox")]);
    match provider.retrieve("pi_anything").await {
        Err(ProviderError::Rejected { status: 401, .. }) => {}
        other => panic!("{other:?}"),
    }
    let not_found = sandbox.provider(&[]).retrieve("pi_nothing").await;
    assert!(matches!(
        not_found,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
}

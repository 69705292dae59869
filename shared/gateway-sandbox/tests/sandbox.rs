//! The sandbox over real HTTP on 127.0.0.1:0, every answer checked against Stripe's
//! published schemas (`stripe/subset.json`) for its route and status.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request};
use cartflow_gateway_sandbox::{IntentStatus, Ledger, SandboxSettings, serve};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "sk_test_cartflow_sandbox";
const INTENTS: &str = "/v1/payment_intents";
const INTENT: &str = "/v1/payment_intents/{intent}";
const CAPTURE: &str = "/v1/payment_intents/{intent}/capture";
const CANCEL: &str = "/v1/payment_intents/{intent}/cancel";
const REFUNDS: &str = "/v1/refunds";

// --- A plain HTTP client and a sandbox per test --------------------------------------

#[derive(Clone)]
struct Sandbox {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn start(settings: SandboxSettings) -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, settings, std::future::pending()));
    Sandbox {
        base: format!("http://{addr}"),
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

impl Sandbox {
    async fn send(
        &self,
        method: Method,
        path: &str,
        api_key: Option<&str>,
        idempotency_key: Option<&str>,
        body: String,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(key) = api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .expect("the sandbox answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {bytes:?}"));
        Reply {
            status,
            headers,
            json,
        }
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)], key: Option<&str>) -> Reply {
        self.send(Method::POST, path, Some(KEY), key, form(pairs))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Some(KEY), None, String::new())
            .await
    }

    async fn authorize(&self, token: &str, amount: i64, key: &str) -> Reply {
        let amount = amount.to_string();
        self.post(INTENTS, &intent_form(token, &amount, key), Some(key))
            .await
    }

    async fn ledger(&self) -> Ledger {
        serde_json::from_value(self.send_control(Method::GET, "/sandbox/ledger", "").await)
            .expect("a ledger")
    }

    async fn set_down(&self, down: bool) {
        let body = json!({ "down": down }).to_string();
        self.send_control(Method::POST, "/sandbox/outage", &body)
            .await;
    }

    async fn send_control(&self, method: Method, path: &str, body: &str) -> Value {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }
}

/// What cartflow's payment service sends to authorize a checkout.
fn intent_form<'a>(token: &'a str, amount: &'a str, checkout: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("amount", amount),
        ("currency", "usd"),
        ("payment_method", token),
        ("capture_method", "manual"),
        ("confirm", "true"),
        ("metadata[checkout_id]", checkout),
        ("description", "cartflow checkout"),
        ("expand[]", "latest_charge"),
    ]
}

// --- Stripe's schemas ------------------------------------------------------------------

struct Schemas(Value);

impl Schemas {
    fn load() -> Self {
        Schemas(serde_json::from_str(include_str!("../stripe/subset.json")).unwrap())
    }

    /// What Stripe's description says a `status` answer to `method route` looks like:
    /// its `200` schema, or its `default` (the error) for any other status.
    fn validator(&self, route: &str, method: &str, status: u16) -> jsonschema::Validator {
        let responses = &self.0["paths"][route][method]["responses"];
        let schema = if status == 200 {
            &responses["200"]
        } else {
            &responses["default"]
        };
        assert!(
            schema.is_object(),
            "no schema for {method} {route} {status}"
        );
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.0["components"],
            "allOf": [schema],
        });
        jsonschema::draft202012::new(&root).expect("a valid schema")
    }

    fn errors(&self, route: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        self.validator(route, method, status)
            .iter_errors(body)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }

    fn check(&self, route: &str, method: &str, reply: &Reply) {
        let errors = self.errors(route, method, reply.status, &reply.json);
        assert!(
            errors.is_empty(),
            "{method} {route} {}: not in Stripe's shape:\n{}\n{:#}",
            reply.status,
            errors.join("\n"),
            reply.json
        );
    }
}

fn error_code(reply: &Reply) -> (&str, &str) {
    (
        reply.json["error"]["type"].as_str().unwrap_or_default(),
        reply.json["error"]["code"].as_str().unwrap_or_default(),
    )
}

// --- Every route, in Stripe's shapes -------------------------------------------------------

#[tokio::test]
async fn every_route_answers_in_stripes_shapes() {
    let sandbox = start(SandboxSettings::default()).await;
    let schemas = Schemas::load();

    // Approve, the charge expanded: brand and last four for the token.
    let visa = sandbox
        .authorize("pm_card_visa", 2500, "checkout-visa")
        .await;
    assert_eq!(visa.status, 200, "{}", visa.json);
    schemas.check(INTENTS, "post", &visa);
    assert_eq!(visa.json["status"], "requires_capture");
    assert_eq!(visa.json["amount_capturable"], 2500);
    assert_eq!(visa.json["metadata"]["checkout_id"], "checkout-visa");
    let card = &visa.json["latest_charge"]["payment_method_details"]["card"];
    assert_eq!(
        (card["brand"].as_str(), card["last4"].as_str()),
        (Some("visa"), Some("4242"))
    );
    let visa_id = visa.json["id"].as_str().unwrap().to_string();

    // Approve, not expanded: the charge is its id; retrieving with expand shows it.
    let amount = "1800";
    let mut unexpanded = intent_form("pm_card_mastercard", amount, "checkout-mc");
    unexpanded.pop();
    let mc = sandbox
        .post(INTENTS, &unexpanded, Some("checkout-mc"))
        .await;
    assert_eq!(mc.status, 200, "{}", mc.json);
    schemas.check(INTENTS, "post", &mc);
    assert!(
        mc.json["latest_charge"]
            .as_str()
            .unwrap()
            .starts_with("ch_")
    );
    let mc_id = mc.json["id"].as_str().unwrap().to_string();
    let got = sandbox
        .get(&format!("{INTENTS}/{mc_id}?expand[]=latest_charge"))
        .await;
    assert_eq!(got.status, 200);
    schemas.check(INTENT, "get", &got);
    let card = &got.json["latest_charge"]["payment_method_details"]["card"];
    assert_eq!(
        (card["brand"].as_str(), card["last4"].as_str()),
        (Some("mastercard"), Some("4444"))
    );
    let got = sandbox.get(&format!("{INTENTS}/{mc_id}")).await;
    schemas.check(INTENT, "get", &got);

    // Both declines: 402 card_error, the intent inside, nothing held.
    for (token, decline_code) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
    ] {
        let declined = sandbox.authorize(token, 900, token).await;
        assert_eq!(declined.status, 402, "{}", declined.json);
        schemas.check(INTENTS, "post", &declined);
        assert_eq!(error_code(&declined), ("card_error", "card_declined"));
        let error = &declined.json["error"];
        assert_eq!(error["decline_code"], decline_code);
        assert_eq!(error["payment_intent"]["status"], "requires_payment_method");
        assert_eq!(error["payment_intent"]["amount_capturable"], 0);
    }

    // An unknown token, missing and wrong keys, an unknown intent.
    let unknown = sandbox.authorize("pm_card_unknown", 900, "unknown").await;
    assert_eq!(unknown.status, 400);
    schemas.check(INTENTS, "post", &unknown);
    assert_eq!(
        error_code(&unknown),
        ("invalid_request_error", "resource_missing")
    );
    for api_key in [
        None,
        Some("sk_live_not_this_one"),
        Some("pk_test_publishable"),
    ] {
        let body = form(&intent_form("pm_card_visa", "100", "no-key"));
        let refused = sandbox
            .send(Method::POST, INTENTS, api_key, Some("no-key"), body)
            .await;
        assert_eq!(refused.status, 401, "{api_key:?}");
        schemas.check(INTENTS, "post", &refused);
    }
    let missing = sandbox.get(&format!("{INTENTS}/pi_nothing")).await;
    assert_eq!(missing.status, 404);
    schemas.check(INTENT, "get", &missing);

    // Capture; again is refused for the intent's state.
    let capture = format!("{INTENTS}/{visa_id}/capture");
    let captured = sandbox.post(&capture, &[], Some("capture-visa")).await;
    assert_eq!(captured.status, 200, "{}", captured.json);
    schemas.check(CAPTURE, "post", &captured);
    assert_eq!(captured.json["status"], "succeeded");
    assert_eq!(captured.json["amount_received"], 2500);
    assert_eq!(captured.json["amount_capturable"], 0);
    let again = sandbox.post(&capture, &[], Some("capture-visa-2")).await;
    assert_eq!(again.status, 400);
    schemas.check(CAPTURE, "post", &again);
    assert_eq!(error_code(&again).1, "payment_intent_unexpected_state");

    // Cancel (void); a captured intent cannot be canceled.
    let canceled = sandbox
        .post(
            &format!("{INTENTS}/{mc_id}/cancel"),
            &[
                ("cancellation_reason", "abandoned"),
                ("expand[]", "latest_charge"),
            ],
            Some("cancel-mc"),
        )
        .await;
    assert_eq!(canceled.status, 200, "{}", canceled.json);
    schemas.check(CANCEL, "post", &canceled);
    assert_eq!(canceled.json["status"], "canceled");
    let refused = sandbox
        .post(
            &format!("{INTENTS}/{visa_id}/cancel"),
            &[],
            Some("cancel-visa"),
        )
        .await;
    assert_eq!(refused.status, 400);
    schemas.check(CANCEL, "post", &refused);
    assert_eq!(
        error_code(&refused),
        ("invalid_request_error", "payment_intent_unexpected_state")
    );

    // Refunds: part, too much, the rest, once more, and of a voided intent.
    let part = sandbox
        .post(
            REFUNDS,
            &[("payment_intent", &visa_id), ("amount", "1000")],
            Some("refund-1"),
        )
        .await;
    assert_eq!(part.status, 200, "{}", part.json);
    schemas.check(REFUNDS, "post", &part);
    assert_eq!(part.json["status"], "succeeded");
    assert_eq!(part.json["amount"], 1000);
    let too_much = sandbox
        .post(
            REFUNDS,
            &[("payment_intent", &visa_id), ("amount", "2000")],
            Some("refund-2"),
        )
        .await;
    assert_eq!(too_much.status, 400);
    schemas.check(REFUNDS, "post", &too_much);
    let rest = sandbox
        .post(REFUNDS, &[("payment_intent", &visa_id)], Some("refund-3"))
        .await;
    assert_eq!(
        (rest.status, rest.json["amount"].as_i64()),
        (200, Some(1500))
    );
    let more = sandbox
        .post(REFUNDS, &[("payment_intent", &visa_id)], Some("refund-4"))
        .await;
    assert_eq!(more.status, 400);
    schemas.check(REFUNDS, "post", &more);
    let voided = sandbox
        .post(REFUNDS, &[("payment_intent", &mc_id)], Some("refund-5"))
        .await;
    assert_eq!(voided.status, 400);
    schemas.check(REFUNDS, "post", &voided);

    // The lists, page by page, newest first, hold the whole ledger.
    let ledger = sandbox.ledger().await;
    let mut seen = Vec::new();
    let mut path = format!("{INTENTS}?limit=2&expand[]=data.latest_charge");
    loop {
        let page = sandbox.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.json);
        schemas.check(INTENTS, "get", &page);
        let data = page.json["data"].as_array().unwrap();
        seen.extend(data.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        if page.json["has_more"] == false {
            break;
        }
        path = format!("{INTENTS}?limit=2&starting_after={}", seen.last().unwrap());
    }
    let mut expected: Vec<String> = ledger.intents.iter().map(|i| i.id.clone()).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    let refunds = sandbox.get(&format!("{REFUNDS}?limit=1")).await;
    schemas.check(REFUNDS, "get", &refunds);
    assert_eq!(refunds.json["has_more"], true);
    let after = refunds.json["data"][0]["id"].as_str().unwrap();
    let last = sandbox
        .get(&format!("{REFUNDS}?limit=1&starting_after={after}"))
        .await;
    schemas.check(REFUNDS, "get", &last);
    assert_eq!(
        (
            last.json["data"][0]["amount"].as_i64(),
            &last.json["has_more"]
        ),
        (Some(1000), &json!(false))
    );
    let bad = sandbox.get(&format!("{INTENTS}?limit=1000")).await;
    assert_eq!(bad.status, 400);
    schemas.check(INTENTS, "get", &bad);

    // A key reused with other parameters.
    let reused = sandbox
        .authorize("pm_card_visa", 2600, "checkout-visa")
        .await;
    assert_eq!(reused.status, 400);
    schemas.check(INTENTS, "post", &reused);
    assert_eq!(error_code(&reused).0, "idempotency_error");

    // An outage answers every route in Stripe's error shape.
    sandbox.set_down(true).await;
    let down = sandbox.get(INTENTS).await;
    assert_eq!(down.status, 503);
    schemas.check(INTENTS, "get", &down);
    sandbox.set_down(false).await;

    // The books: 2500 captured and refunded, the rest voided or declined.
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 4);
    assert_eq!(ledger.refunds.len(), 2);
    let counts = &ledger.counts;
    assert_eq!(
        (
            counts.authorizations,
            counts.declines,
            counts.captures,
            counts.voids,
            counts.refunds
        ),
        (2, 2, 1, 1, 2)
    );
    assert_eq!(
        (
            ledger.totals.captured,
            ledger.totals.refunded,
            ledger.totals.net
        ),
        (2500, 2500, 0)
    );
    assert_eq!(ledger.totals.capturable, 0);
    assert_no_card_numbers(&serde_json::to_string(&ledger).unwrap());
}

/// No run of 13 or more digits anywhere: tokens, brands and last fours only.
fn assert_no_card_numbers(text: &str) {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        assert!(run < 13, "something shaped like a card number in {text}");
    }
}

#[tokio::test]
async fn a_body_not_in_stripes_shape_fails_the_check() {
    let sandbox = start(SandboxSettings::default()).await;
    let schemas = Schemas::load();
    let approved = sandbox.authorize("pm_card_visa", 1200, "mutations").await;
    let declined = sandbox
        .authorize("pm_card_chargeDeclined", 1200, "mutations-declined")
        .await;
    assert!(
        schemas
            .errors(INTENTS, "post", 200, &approved.json)
            .is_empty()
    );
    assert!(
        schemas
            .errors(INTENTS, "post", 402, &declined.json)
            .is_empty()
    );

    type Mutation = fn(&mut Value);
    let mutations: [(&str, Mutation); 6] = [
        ("amount as a string", |v| v["amount"] = json!("12.00")),
        ("no status", |v| {
            v.as_object_mut().unwrap().remove("status");
        }),
        ("a status Stripe does not have", |v| {
            v["status"] = json!("authorized")
        }),
        ("the card's expiry month missing", |v| {
            v["latest_charge"]["payment_method_details"]["card"]
                .as_object_mut()
                .unwrap()
                .remove("exp_month");
        }),
        ("null where Stripe never sends null", |v| {
            v["latest_charge"]["captured"] = Value::Null
        }),
        ("an expansion cartflow does not use, expanded", |v| {
            v["latest_charge"]["customer"] = json!({ "id": "cus_1" })
        }),
    ];
    for (what, mutate) in mutations {
        let mut body = approved.json.clone();
        mutate(&mut body);
        assert!(
            !schemas.errors(INTENTS, "post", 200, &body).is_empty(),
            "{what}: passed the check"
        );
    }
    let mut body = declined.json.clone();
    body["error"]["type"] = json!("card_failure");
    assert!(!schemas.errors(INTENTS, "post", 402, &body).is_empty());
}

// --- Idempotency, the slow and the flaky tokens, declines, outage ----------------------------

#[tokio::test]
async fn the_same_key_replays_the_first_answer_and_charges_once() {
    let sandbox = start(SandboxSettings::default()).await;
    let first = sandbox.authorize("pm_card_visa", 4200, "replay").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    // The same parameters in another order are the same request.
    let mut reordered = intent_form("pm_card_visa", "4200", "replay");
    reordered.reverse();
    let again = sandbox.post(INTENTS, &reordered, Some("replay")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json, first.json);

    // A decline is replayed too: 402, the same intent, one decline.
    let declined = sandbox
        .authorize("pm_card_chargeDeclined", 4200, "replay-declined")
        .await;
    let declined_again = sandbox
        .authorize("pm_card_chargeDeclined", 4200, "replay-declined")
        .await;
    assert_eq!((declined.status, declined_again.status), (402, 402));
    assert_eq!(declined_again.json, declined.json);

    // Capture and refund retried with their keys happen once.
    let id = first.json["id"].as_str().unwrap();
    let capture = format!("{INTENTS}/{id}/capture");
    let captured = sandbox.post(&capture, &[], Some("replay-capture")).await;
    let captured_again = sandbox.post(&capture, &[], Some("replay-capture")).await;
    assert_eq!((captured.status, captured_again.status), (200, 200));
    assert_eq!(captured_again.json, captured.json);
    let refund = [("payment_intent", id), ("amount", "200")];
    let refunded = sandbox.post(REFUNDS, &refund, Some("replay-refund")).await;
    let refunded_again = sandbox.post(REFUNDS, &refund, Some("replay-refund")).await;
    assert_eq!(refunded_again.json, refunded.json);

    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 2);
    let counts = &ledger.counts;
    assert_eq!(
        (
            counts.authorizations,
            counts.declines,
            counts.captures,
            counts.refunds
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(
        (ledger.totals.captured, ledger.totals.refunded),
        (4200, 200)
    );
}

#[tokio::test]
async fn the_slow_token_answers_late_once_and_its_key_waits_for_it() {
    let slow = Duration::from_millis(800);
    let sandbox = start(SandboxSettings {
        slow_ms: slow.as_millis() as u64,
        ..SandboxSettings::default()
    })
    .await;
    let started = Instant::now();

    // A client that gives up: the intent is made all the same, once.
    let given_up = tokio::time::timeout(
        Duration::from_millis(200),
        sandbox.authorize("pm_card_slow", 3100, "slow"),
    )
    .await;
    assert!(given_up.is_err(), "answered before the delay");
    assert_eq!(sandbox.ledger().await.intents.len(), 1);

    // Its retry while the first still runs: 409, Stripe's in-use error, retryable.
    let in_use = sandbox.authorize("pm_card_slow", 3100, "slow").await;
    assert_eq!(in_use.status, 409, "{}", in_use.json);
    assert_eq!(
        error_code(&in_use),
        ("invalid_request_error", "idempotency_key_in_use")
    );
    assert_eq!(in_use.header("stripe-should-retry"), Some("true"));
    Schemas::load().check(INTENTS, "post", &in_use);

    // Once the first has finished, the retry gets its answer at once.
    tokio::time::sleep(slow.saturating_sub(started.elapsed()) + Duration::from_millis(100)).await;
    let asked = Instant::now();
    let replayed = sandbox.authorize("pm_card_slow", 3100, "slow").await;
    assert!(asked.elapsed() < Duration::from_millis(300));
    assert_eq!(replayed.status, 200, "{}", replayed.json);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.json["status"], "requires_capture");

    // A request that waits gets the answer after the delay.
    let asked = Instant::now();
    let waited = sandbox.authorize("pm_card_slow", 3100, "slow-2").await;
    assert!(asked.elapsed() >= slow);
    assert_eq!(waited.status, 200);

    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 2);
    assert_eq!(ledger.intents[0].id, replayed.json["id"]);
    assert_eq!(ledger.counts.authorizations, 2);
}

#[tokio::test]
async fn the_flaky_token_fails_once_per_key_then_approves_once() {
    let sandbox = start(SandboxSettings::default()).await;
    let failed = sandbox.authorize("pm_card_flaky", 700, "flaky").await;
    assert_eq!(failed.status, 500, "{}", failed.json);
    assert_eq!(error_code(&failed).0, "api_error");
    Schemas::load().check(INTENTS, "post", &failed);
    assert!(
        sandbox.ledger().await.intents.is_empty(),
        "a 500 creates nothing"
    );

    let approved = sandbox.authorize("pm_card_flaky", 700, "flaky").await;
    assert_eq!(approved.status, 200, "{}", approved.json);
    assert_eq!(approved.header("idempotent-replayed"), None);
    let replayed = sandbox.authorize("pm_card_flaky", 700, "flaky").await;
    assert_eq!(replayed.json, approved.json);

    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 1);
    assert_eq!(ledger.intents[0].status, IntentStatus::RequiresCapture);
    // Another key fails once too.
    let other = sandbox.authorize("pm_card_flaky", 700, "flaky-2").await;
    assert_eq!(other.status, 500);
}

#[tokio::test]
async fn declines_hold_nothing_and_say_why() {
    let sandbox = start(SandboxSettings::default()).await;
    let generic = sandbox
        .authorize("pm_card_chargeDeclined", 5000, "d1")
        .await;
    let funds = sandbox
        .authorize("pm_card_chargeDeclinedInsufficientFunds", 5000, "d2")
        .await;
    assert_eq!(generic.json["error"]["decline_code"], "generic_decline");
    assert_eq!(funds.json["error"]["decline_code"], "insufficient_funds");
    assert_eq!(
        funds.json["error"]["message"],
        "Your card has insufficient funds."
    );
    // A declined intent cannot be captured; it can be canceled (no void: nothing held).
    let id = funds.json["error"]["payment_intent"]["id"]
        .as_str()
        .unwrap();
    let capture = sandbox
        .post(&format!("{INTENTS}/{id}/capture"), &[], Some("d2-capture"))
        .await;
    assert_eq!(capture.status, 400);
    let cancel = sandbox
        .post(&format!("{INTENTS}/{id}/cancel"), &[], Some("d2-cancel"))
        .await;
    assert_eq!(cancel.status, 200);

    let ledger = sandbox.ledger().await;
    let codes: Vec<_> = ledger
        .intents
        .iter()
        .map(|i| {
            (
                i.decline_code.as_deref(),
                i.amount_capturable,
                i.last4.as_str(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (Some("generic_decline"), 0, "0002"),
            (Some("insufficient_funds"), 0, "9995")
        ]
    );
    assert_eq!((ledger.counts.declines, ledger.counts.voids), (2, 0));
    assert_eq!(ledger.totals.capturable, 0);
}

#[tokio::test]
async fn an_outage_answers_503_until_the_provider_is_back() {
    let sandbox = start(SandboxSettings::default()).await;
    sandbox.set_down(true).await;
    let down = sandbox.authorize("pm_card_visa", 1000, "outage").await;
    assert_eq!(down.status, 503);
    assert_eq!(error_code(&down).0, "api_error");
    assert!(sandbox.ledger().await.intents.is_empty());

    sandbox.set_down(false).await;
    let up = sandbox.authorize("pm_card_visa", 1000, "outage").await;
    assert_eq!(up.status, 200, "the key was not spent by the outage");
    assert_eq!(sandbox.ledger().await.intents.len(), 1);
}

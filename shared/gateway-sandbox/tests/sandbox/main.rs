//! The sandbox over real HTTP on 127.0.0.1:0, every answer checked against Stripe's
//! published schemas (`stripe/subset.json`) for its route and status.
//!
//! This file holds a plain HTTP client, a sandbox per test and the schema check; the
//! tests are in `shapes` (every route in Stripe's shapes, and the check failing a wrong
//! body) and `behaviour` (idempotency, the slow and the flaky tokens, declines, outage).

mod behaviour;
mod shapes;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request};
use cartflow_gateway_sandbox::{Ledger, SandboxSettings, serve};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

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
        Schemas(serde_json::from_str(include_str!("../../stripe/subset.json")).unwrap())
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

//! Who may do what, in `AUTH_MODE=oidc` with real signed tokens from a test issuer
//! whose JWKS is served on loopback: every route for anonymous, the owner, another
//! customer and staff; forged tokens; the issuer down; rate limits.
//!
//! This module holds what the tests share: who calls, a call checked for its problem
//! answer, and a customer signing up and deleting their account. The tests are in
//! `routes` (every route for every caller), `tokens` (forged, stale and revoked tokens,
//! the issuer down), `sign_up` (the verified email), `limits` (rate limits) and
//! `streams` (live push streams).

mod limits;
mod routes;
mod sign_up;
mod streams;
mod tokens;

use crate::helpers::TestApp;
use crate::helpers::issuer::TestIssuer;
use cartflow_events::Service;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const OK: StatusCode = StatusCode::OK;
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;

/// Who calls.
#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Customer(Uuid),
    /// A customer whose token carries this verified email.
    Verified(Uuid, &'static str),
    Staff,
}

/// Sends `method path` of `service` as `who`; returns status and JSON body.
async fn call(
    app: &TestApp,
    who: Who,
    method: Method,
    service: Service,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .request(method.clone(), format!("{}{path}", app.url(service)));
    request = match who {
        Who::Anonymous => request,
        Who::Customer(id) => request.bearer_auth(TestIssuer::customer_token(id)),
        Who::Verified(id, email) => {
            request.bearer_auth(TestIssuer::customer_token_with_email(id, email))
        }
        Who::Staff => request.bearer_auth(TestIssuer::staff_token()),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if status.is_client_error() {
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            kind, "application/problem+json",
            "{method} {path} as {who:?}"
        );
        if status == UNAUTHORIZED {
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
    }
    if response
        .headers()
        .get("content-type")
        .is_some_and(|t| t == "text/event-stream")
    {
        return (status, Value::Null); // a live stream: its status is the answer
    }
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts `method path` answers `expected` as `who`; returns the body.
async fn expect(
    app: &TestApp,
    who: Who,
    method: Method,
    service: Service,
    path: &str,
    body: Option<Value>,
    expected: StatusCode,
) -> Value {
    let (status, answer) = call(app, who, method.clone(), service, path, body).await;
    assert_eq!(
        status, expected,
        "{method} {service}{path} as {who:?}: {answer}"
    );
    answer
}

/// Signs up `id` the way a customer would: their own token (which verified `email`),
/// their own record.
async fn sign_up(app: &TestApp, id: Uuid, name: &str, email: &'static str) {
    let body = json!({ "name": name, "email": email });
    let created = expect(
        app,
        Who::Verified(id, email),
        Method::POST,
        Service::Customer,
        "/customers",
        Some(body),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        created["id"],
        id.to_string(),
        "the record takes the caller's id"
    );
}

/// `id` deletes their own record, as a customer would.
async fn delete_account(app: &TestApp, id: Uuid) {
    let own = format!("/customers/{id}");
    let who = Who::Customer(id);
    expect(
        app,
        who,
        Method::DELETE,
        Service::Customer,
        &own,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
}

//! With OIDC: a push gets through only with a Google-style token for this audience and
//! service account.

use crate::helpers::{TestApp, count, spawn_app_with};
use axum::routing::get;
use base64::Engine;
use cartflow_events::{LineItem, PaymentAuthorized, Service};
use cartflow_testkit::envelope_for;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const AUDIENCE: &str = "https://order.cartflow.test";
const PUSHER: &str = "pubsub-push@cartflow-test.iam.gserviceaccount.com";
const TEST_KEY_ID: &str = "cartflow-test-key";

/// Serves the test key's JWKS on loopback; returns its URL.
async fn serve_test_jwks() -> String {
    let jwks: Value = serde_json::from_str(cartflow_testkit::fixtures::PUSH_JWKS).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/certs", get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// A token as Pub/Sub would sign it, with `change` applied to the claims.
fn token(kid: &str, change: impl FnOnce(&mut Value)) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": PUSHER,
        "email_verified": true,
        "sub": "1234567890",
        "iat": now,
        "exp": now + 600,
    });
    change(&mut claims);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_rsa_pem(cartflow_testkit::fixtures::PUSH_SIGNING_KEY).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// A push request body carrying a `payment.authorized` event for a new cart.
fn push_body(app: &TestApp, cart_id: Uuid) -> Value {
    let event = PaymentAuthorized {
        checkout_id: Uuid::new_v4(),
        expires_at: None,
        cart_id,
        customer_id: Uuid::new_v4(),
        payment_id: Uuid::new_v4(),
        amount_cents: 1250,
        items: vec![LineItem {
            product_sku: cartflow_events::Sku::parse("KB-1").unwrap(),
            quantity: 1,
            unit_price_cents: 1250,
        }],
        shipping_address: None,
        card: None,
    };
    let envelope = envelope_for::<PaymentAuthorized>(cart_id);
    json!({
        "message": {
            "attributes": envelope.to_attributes(),
            "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&event).unwrap()),
            "messageId": "4242",
            "publishTime": "2026-11-22T00:00:00Z",
        },
        "subscription": app.infra.pubsub().subscription_path("order.payment.authorized"),
        "deliveryAttempt": 1,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_requests_need_a_google_token_for_this_audience_and_service_account() {
    let jwks_url = serve_test_jwks().await;
    let app = spawn_app_with(&[
        ("PUBSUB_DELIVERY", "push"),
        ("PUSH_AUDIENCE", AUDIENCE),
        ("PUSH_SERVICE_ACCOUNT", PUSHER),
        ("PUSH_JWKS_URL", &jwks_url),
    ])
    .await;
    let push_url = format!("{}/pubsub/push", app.url(Service::Order));
    let refused_body = push_body(&app, Uuid::new_v4());
    let post = |token: Option<String>, body: &Value| {
        let mut request = app.http.post(&push_url).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let response = post(None, &refused_body).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let forged: [(&str, String); 6] = [
        (
            "wrong audience",
            token(TEST_KEY_ID, |c| c["aud"] = "https://elsewhere.test".into()),
        ),
        (
            "wrong issuer",
            token(TEST_KEY_ID, |c| c["iss"] = "https://evil.test".into()),
        ),
        (
            "another service account",
            token(TEST_KEY_ID, |c| {
                c["email"] = "someone@else.iam.gserviceaccount.com".into()
            }),
        ),
        (
            "expired",
            token(TEST_KEY_ID, |c| {
                c["exp"] = (chrono::Utc::now().timestamp() - 3600).into()
            }),
        ),
        ("unknown signing key", token("not-a-google-key", |_| {})),
        ("not a JWT", "not.a.jwt".to_string()),
    ];
    for (what, forged) in forged {
        let response = post(Some(forged), &refused_body).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    assert_eq!(
        app.count(Service::Order, "SELECT count(*) FROM processed_messages")
            .await,
        0,
        "a refused push changes nothing"
    );

    let cart_id = Uuid::new_v4();
    let accepted_body = push_body(&app, cart_id);
    let response = post(Some(token(TEST_KEY_ID, |_| {})), &accepted_body)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The authorization is recorded, waiting for inventory's answer.
    assert_eq!(
        app.count(Service::Order, "SELECT count(*) FROM checkout_answers")
            .await,
        1,
        "a valid push runs the handler"
    );
    // The same push again (Pub/Sub redelivers after a lost ack) is acked and skipped.
    let response = post(Some(token(TEST_KEY_ID, |_| {})), &accepted_body)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        count(
            app.pool(Service::Order),
            "SELECT sum(duplicate_deliveries)::bigint FROM processed_messages"
        )
        .await,
        1
    );
    app.stop().await;
}

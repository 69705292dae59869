//! Tokens that must not get in: forged and stale ones, a deleted customer's, and any
//! the service cannot check while the issuer is down.

use super::{OK, UNAUTHORIZED, Who, call, delete_account, expect, sign_up};
use crate::helpers::issuer::{EC_KID, RSA_KID, TestIssuer, forger_key, rsa_key, sign_with};
use crate::helpers::{eventually, spawn_app_signed_in};
use base64::Engine;
use cartflow_events::Service;
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_tokens_are_refused_and_change_nothing() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = Uuid::new_v4();
    let claims = TestIssuer::claims(&customer.to_string());
    let with = |change: &dyn Fn(&mut Value)| {
        let mut changed = claims.clone();
        change(&mut changed);
        changed
    };
    let now = chrono::Utc::now().timestamp();
    let unsigned = {
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(claims.clone())
        )
    };
    // The issuer's RSA public key as an HMAC secret: the algorithm-confusion attack.
    let jwks: Value = serde_json::from_str(cartflow_testkit::fixtures::AUTH_JWKS).unwrap();
    let public_as_secret =
        jsonwebtoken::EncodingKey::from_secret(jwks["keys"][0]["n"].as_str().unwrap().as_bytes());
    let forged: Vec<(&str, String)> = vec![
        (
            "wrong signature",
            sign_with(&claims, Algorithm::RS256, RSA_KID, &forger_key()),
        ),
        (
            "unknown key id",
            sign_with(&claims, Algorithm::RS256, "rotated-away", &rsa_key()),
        ),
        ("alg none", unsigned),
        (
            "HS256 with the public key",
            sign_with(&claims, Algorithm::HS256, RSA_KID, &public_as_secret),
        ),
        (
            "RS256 under the EC key's id",
            sign_with(&claims, Algorithm::RS256, EC_KID, &rsa_key()),
        ),
        (
            "expired",
            TestIssuer::sign(&with(&|c| c["exp"] = json!(now - 600))),
        ),
        (
            "not yet valid",
            TestIssuer::sign(&with(&|c| c["nbf"] = json!(now + 600))),
        ),
        (
            "wrong audience",
            TestIssuer::sign(&with(&|c| c["aud"] = json!("another-app"))),
        ),
        (
            "wrong issuer",
            TestIssuer::sign(&with(&|c| c["iss"] = json!("https://evil.test"))),
        ),
        (
            "no subject",
            TestIssuer::sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
        ),
        ("not a JWT", "not.a.jwt".into()),
    ];
    let cart = format!("{}/cart/items", app.url(Service::Cart));
    for (what, token) in &forged {
        let response = app
            .http
            .post(&cart)
            .bearer_auth(token)
            .json(&json!({"product_sku": "KB-1", "quantity": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), UNAUTHORIZED, "{what}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        let detail = response.text().await.unwrap();
        assert!(
            !detail.contains(token.as_str()),
            "{what}: the token is echoed: {detail}"
        );
    }
    // A token that expired within the allowed clock skew still works.
    let skewed = TestIssuer::sign(&with(&|c| c["exp"] = json!(now - 5)));
    let response = app
        .http
        .get(format!("{}/orders", app.url(Service::Order)))
        .bearer_auth(skewed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), OK);
    assert_eq!(
        app.count(Service::Cart, "SELECT count(*) FROM carts").await,
        0,
        "nothing changed"
    );
    assert_eq!(
        app.count(Service::Cart, "SELECT count(*) FROM outbox")
            .await,
        0
    );
    // The genuine token of the same customer does get in.
    assert_eq!(app.add_item(customer, "KB-1", 1).await.status(), OK);
    app.stop().await;
}

/// Deleting the account ends its sign-in everywhere a customer can call, though the
/// token itself is still valid at the issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_customers_token_is_refused_everywhere_and_changes_nothing() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    app.create_product("KB-1", 1000, 10).await;
    let gone = Uuid::new_v4();
    let who = Who::Customer(gone);
    sign_up(&app, gone, "Gus", "gus@example.com").await;
    delete_account(&app, gone).await;
    let own = format!("/customers/{gone}");

    let pushes = format!("/push/{gone}");
    let routes = [
        (Method::GET, Service::Customer, own.as_str()),
        (Method::GET, Service::Cart, "/cart"),
        (Method::GET, Service::Order, "/orders"),
        (Method::GET, Service::Notification, "/notifications"),
        (Method::GET, Service::EmailPush, "/emails"),
        (Method::GET, Service::EmailPush, pushes.as_str()),
    ];
    // The other services hear of it through customer.deleted.
    for (method, service, path) in routes {
        eventually("the deletion to reach the service", || async {
            let (status, _) = call(&app, who, method.clone(), service, path, None).await;
            (status == UNAUTHORIZED).then_some(())
        })
        .await;
    }
    let line = json!({ "product_sku": "KB-1", "quantity": 1 });
    expect(
        &app,
        who,
        Method::POST,
        Service::Cart,
        "/cart/items",
        Some(line),
        UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        app.count(Service::Cart, "SELECT count(*) FROM carts").await,
        0
    );
    let again = json!({ "name": "Gus", "email": "gus@example.com" });
    expect(
        &app,
        who,
        Method::POST,
        Service::Customer,
        "/customers",
        Some(again),
        UNAUTHORIZED,
    )
    .await;
    // Someone else is not affected.
    let (status, _) = call(
        &app,
        Who::Customer(Uuid::new_v4()),
        Method::GET,
        Service::Order,
        "/orders",
        None,
    )
    .await;
    assert_eq!(status, OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_issuer_down_tokens_are_refused_readiness_says_so_and_nothing_crashes() {
    let issuer = TestIssuer::start(false).await;
    let app = spawn_app_signed_in(&issuer, &[("AUTH_JWKS_MIN_REFRESH_SECS", "1")]).await;
    let ready = format!("{}/ready", app.url(Service::Order));
    let customer = Who::Customer(Uuid::new_v4());
    let orders = || call(&app, customer, Method::GET, Service::Order, "/orders", None);
    let readiness = || async { app.http.get(&ready).send().await.unwrap() };

    let response = readiness().await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["down"], json!(["identity"]), "{body}");
    let (status, problem) = orders().await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "refused, not let through: {problem}"
    );
    let (status, _) = call(
        &app,
        Who::Anonymous,
        Method::GET,
        Service::Product,
        "/products",
        None,
    )
    .await;
    assert_eq!(status, OK, "the public catalog needs no keys");

    issuer.set_up(true);
    eventually("readiness once the keys are fetched", || async {
        (readiness().await.status() == OK).then_some(())
    })
    .await;
    assert_eq!(orders().await.0, OK);

    // Down again: the fetched keys stay in use; a key the cache never saw is refused.
    issuer.set_up(false);
    assert_eq!(orders().await.0, OK);
    let Who::Customer(id) = customer else {
        unreachable!()
    };
    let rotated = sign_with(
        &TestIssuer::claims(&id.to_string()),
        Algorithm::RS256,
        "issuer-rsa-2",
        &rsa_key(),
    );
    let url = format!("{}/orders", app.url(Service::Order));
    let response = app.http.get(url).bearer_auth(rotated).send().await.unwrap();
    assert_eq!(response.status(), UNAUTHORIZED);
    assert_eq!(readiness().await.status(), OK);
    app.stop().await;
}

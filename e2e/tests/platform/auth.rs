//! Who may do what, in `AUTH_MODE=oidc` with real signed tokens from a test issuer
//! whose JWKS is served on loopback: every route for anonymous, the owner, another
//! customer and staff; forged tokens; the issuer down; rate limits.

use crate::helpers::issuer::{EC_KID, RSA_KID, TestIssuer, forger_key, rsa_key, sign_with};
use crate::helpers::{
    TestApp, assert_problem, eventually, eventually_within, spawn_app_signed_in, spawn_app_with,
};
use base64::Engine;
use cartflow_events::Service;
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
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

/// A listing as `who`, which must answer 200.
/// The items of a list's first page (each list here is short).
async fn list(app: &TestApp, who: Who, service: Service, path: &str) -> Value {
    let (status, list) = call(app, who, Method::GET, service, path, None).await;
    assert_eq!(status, OK, "{who:?} {path}");
    assert!(list["next_page_token"].is_null(), "{path}: {list}");
    list["items"].clone()
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

/// Every route that someone may not call: `caller method service path body status`.
/// Callers: `anonymous`, `ann` (the owner of everything named), `bob` (another
/// customer). `{order}` is Ann's order, `{note}` one of her notifications; bodies are
/// named in [`body`].
const REFUSED: &str = "
anonymous GET    cart         /cart                       -         401
anonymous POST   cart         /cart/items                 line      401
anonymous DELETE cart         /cart/items/KB-1            -         401
anonymous POST   cart         /cart/convert-to-order      -         401
anonymous GET    order        /orders                     -         401
anonymous GET    order        /orders/{order}             -         401
bob       GET    order        /orders/{order}             -         404
anonymous POST   order        /orders/{order}/cancel      -         401
bob       POST   order        /orders/{order}/cancel      -         404
anonymous PUT    order        /orders/{order}/status      shipped   401
ann       PUT    order        /orders/{order}/status      shipped   403
bob       PUT    order        /orders/{order}/status      shipped   403
anonymous GET    customer     /customers                  -         401
ann       GET    customer     /customers                  -         403
anonymous POST   customer     /customers                  mallory   401
bob       POST   customer     /customers                  someone   403
anonymous GET    customer     /customers/{ann}            -         401
bob       GET    customer     /customers/{ann}            -         404
anonymous PUT    customer     /customers/{ann}            mallory   401
bob       PUT    customer     /customers/{ann}            mallory   404
anonymous DELETE customer     /customers/{ann}            -         401
bob       DELETE customer     /customers/{ann}            -         404
anonymous GET    notification /notifications              -         401
anonymous GET    notification /notifications/{note}       -         401
bob       GET    notification /notifications/{note}       -         404
anonymous POST   notification /notifications              message   401
ann       POST   notification /notifications              message   403
anonymous GET    email-push   /emails                     -         401
anonymous GET    email-push   /push/{ann}                 -         401
bob       GET    email-push   /push/{ann}                 -         404
anonymous GET    email-push   /push/{ann}/stream          -         401
bob       GET    email-push   /push/{ann}/stream          -         404
anonymous POST   product      /products                   product   401
ann       POST   product      /products                   product   403
anonymous PUT    product      /products/KB-1              price     401
ann       PUT    product      /products/KB-1              price     403
ann       DELETE product      /products/KB-1              -         403
anonymous POST   inventory    /inventory                  stock     401
ann       POST   inventory    /inventory                  stock     403
ann       PUT    inventory    /inventory/KB-1             quantity  403
ann       DELETE inventory    /inventory/KB-1             -         403
anonymous GET    payment      /payments                   -         401
anonymous GET    payment      /payments/{payment}         -         401
bob       GET    payment      /payments/{payment}         -         404
anonymous GET    payment      /payments/reconciliation    -         401
ann       GET    payment      /payments/reconciliation    -         403
";

/// What each caller may do, in this order (changes last). `cy` deletes herself.
const ALLOWED: &str = "
anonymous GET    product      /products                   -         200
anonymous GET    product      /products/KB-1              -         200
anonymous GET    inventory    /inventory                  -         200
anonymous GET    inventory    /inventory/KB-1             -         200
ann       GET    cart         /cart                       -         200
ann       GET    order        /orders/{order}             -         200
ann       GET    customer     /customers/{ann}            -         200
ann       GET    notification /notifications/{note}       -         200
ann       GET    email-push   /push/{ann}                 -         200
ann       GET    email-push   /push/{ann}/stream          -         200
staff     GET    order        /orders/{order}             -         200
staff     GET    customer     /customers                  -         200
staff     GET    email-push   /push/{ann}                 -         200
ann       GET    payment      /payments/{payment}         -         200
ann       GET    payment      /payments                   -         200
staff     GET    payment      /payments/reconciliation    -         200
ann       PUT    customer     /customers/{ann}            rename    200
ann       POST   order        /orders/{other}/cancel      -         200
cy        DELETE customer     /customers/{cy}             -         204
staff     PUT    order        /orders/{order}/status      shipped   200
staff     POST   customer     /customers                  dee       201
staff     PUT    product      /products/KB-1              rename-kb 200
staff     PUT    inventory    /inventory/KB-1             quantity  200
staff     POST   notification /notifications              message   201
staff     POST   product      /products                   product   201
staff     DELETE product      /products/NEW-1             -         204
staff     POST   inventory    /inventory                  stock     201
staff     DELETE inventory    /inventory/NEW-1            -         204
";

fn body(name: &str, ann: Uuid) -> Option<Value> {
    Some(match name {
        "-" => return None,
        "line" => json!({ "product_sku": "KB-1", "quantity": 1 }),
        "shipped" => json!({ "status": "shipped" }),
        "mallory" => json!({ "name": "Mallory", "email": "ann@example.com" }),
        "someone" => json!({ "id": Uuid::new_v4(), "name": "X", "email": "x@example.com" }),
        "rename" => json!({ "name": "Ann B", "email": "ann@example.com" }),
        "dee" => json!({ "name": "Dee", "email": "dee@example.com" }),
        "message" => json!({ "customer_id": ann, "subject": "Hello", "body": "From the shop" }),
        "product" => json!({ "sku": "NEW-1", "name": "New", "price_cents": 1 }),
        "price" => json!({ "name": "Cheap", "price_cents": 1 }),
        "rename-kb" => json!({ "name": "Keyboard", "price_cents": 1200 }),
        "stock" => json!({ "sku": "NEW-1", "quantity": 5 }),
        "quantity" => json!({ "quantity": 40 }),
        other => panic!("no body named {other}"),
    })
}

/// Runs every line of `table` against `app`, with `{name}` filled from `names`.
async fn run_table(app: &TestApp, table: &str, callers: &[(&str, Who)], names: &[(&str, String)]) {
    let ann = match callers.iter().find(|(n, _)| *n == "ann") {
        Some((_, Who::Customer(id) | Who::Verified(id, _))) => *id,
        _ => panic!("the table needs ann"),
    };
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let [who, method, service, path, body_name, status] = line
            .split_whitespace()
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_else(|_| panic!("six columns expected: {line}"));
        let who = callers.iter().find(|(n, _)| *n == who).unwrap().1;
        let method: Method = method.parse().unwrap();
        let service: Service = service.parse().unwrap();
        let mut path = path.to_string();
        for (name, value) in names {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let status = StatusCode::from_u16(status.parse().unwrap()).unwrap();
        expect(
            app,
            who,
            method,
            service,
            &path,
            body(body_name, ann),
            status,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_the_owner_refuses_the_others_and_refusals_change_nothing() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    let (ann, bob, cy) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (owner, other) = (Who::Verified(ann, "ann@example.com"), Who::Customer(bob));
    app.create_product("KB-1", 1000, 50).await;
    sign_up(&app, ann, "Ann", "ann@example.com").await;
    sign_up(&app, bob, "Bob", "bob@example.com").await;
    sign_up(&app, cy, "Cy", "cy@example.com").await;
    app.wait_for_contact(ann, "ann@example.com").await;
    let order = app.checkout(ann, "KB-1", 1).await;
    let other_order = app.checkout(ann, "KB-1", 1).await;
    let payment = app
        .get_json(Service::Order, &format!("/orders/{order}"))
        .await["payment_id"]
        .as_str()
        .expect("the order's payment")
        .to_string();
    // Both orders' confirmations and receipts, by email and push: the saga has settled.
    let note = eventually("Ann's confirmations and receipts", || async {
        let (_, list) = call(
            &app,
            owner,
            Method::GET,
            Service::Notification,
            "/notifications",
            None,
        )
        .await;
        let list = list["items"].as_array().cloned().unwrap_or_default();
        (list.len() >= 8).then(|| list[0]["id"].as_str().unwrap().to_string())
    })
    .await;
    let callers = [
        ("anonymous", Who::Anonymous),
        ("ann", owner),
        ("bob", other),
        ("cy", Who::Customer(cy)),
        ("staff", Who::Staff),
    ];
    let names = [
        ("order", order),
        ("other", other_order),
        ("payment", payment),
        ("note", note),
        ("ann", ann.to_string()),
        ("cy", cy.to_string()),
    ];

    let before = snapshot(&app).await;
    run_table(&app, REFUSED, &callers, &names).await;
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request changes nothing"
    );

    // Lists are filtered to the caller; staff see everyone's.
    let owners = |list: Value, field: &str| -> Vec<String> {
        let items = list.as_array().unwrap().iter();
        items
            .map(|i| i[field].as_str().unwrap_or("-").to_string())
            .collect()
    };
    let ann_text = ann.to_string();
    let all_anns = |ids: &[String]| !ids.is_empty() && ids.iter().all(|c| *c == ann_text);
    assert!(all_anns(&owners(
        list(&app, owner, Service::Order, "/orders").await,
        "customer_id"
    )));
    assert!(all_anns(&owners(
        list(&app, owner, Service::EmailPush, "/emails").await,
        "customer_id"
    )));
    assert!(all_anns(&owners(
        list(&app, owner, Service::Notification, "/notifications").await,
        "customer_id"
    )));
    let for_ann = &format!("/orders?customer_id={ann}");
    assert_eq!(list(&app, other, Service::Order, for_ann).await, json!([]));
    assert_eq!(
        list(&app, other, Service::Order, "/orders").await,
        json!([])
    );
    assert!(
        !owners(
            list(&app, other, Service::EmailPush, "/emails").await,
            "customer_id"
        )
        .contains(&ann_text)
    );
    assert!(
        !owners(
            list(&app, other, Service::Notification, "/notifications").await,
            "customer_id"
        )
        .contains(&ann_text)
    );
    assert_eq!(
        list(&app, Who::Staff, Service::Order, for_ann)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        owners(
            list(&app, Who::Staff, Service::Notification, "/notifications").await,
            "customer_id"
        )
        .contains(&ann_text)
    );

    run_table(&app, ALLOWED, &callers, &names).await;
    app.stop().await;
}

/// Everything a refused request could have touched.
async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for (service, sql) in [
        (Service::Cart, "SELECT count(*) FROM cart_items"),
        (Service::Cart, "SELECT count(*) FROM outbox"),
        (
            Service::Order,
            "SELECT count(*) FROM orders WHERE status = 'confirmed'",
        ),
        (Service::Order, "SELECT count(*) FROM outbox"),
        (Service::Customer, "SELECT count(*) FROM customers"),
        (
            Service::Customer,
            "SELECT count(*) FROM customers WHERE name IN ('Mallory', 'X')",
        ),
        (Service::Customer, "SELECT count(*) FROM outbox"),
        (Service::Notification, "SELECT count(*) FROM notifications"),
        (
            Service::Product,
            "SELECT count(*) FROM products WHERE price_cents = 1000",
        ),
        (Service::Product, "SELECT count(*) FROM products"),
        (
            Service::Inventory,
            "SELECT sum(available)::bigint FROM stock_items",
        ),
        (Service::Inventory, "SELECT count(*) FROM stock_items"),
    ] {
        counts.push(app.count(service, sql).await);
    }
    counts
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_limit_a_caller_gets_429_with_retry_after_and_others_do_not() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_CALLER_PER_SEC", "1"),
        ("RATE_LIMIT_CALLER_BURST", "3"),
        ("RATE_LIMIT_IP_PER_SEC", "1"),
        ("RATE_LIMIT_IP_BURST", "8"),
    ])
    .await;
    let cart = format!("{}/cart", app.url(Service::Cart));
    let (busy, calm) = (Uuid::new_v4(), Uuid::new_v4());
    let get_as = |customer: Uuid| {
        app.http
            .get(&cart)
            .header("X-Customer-Id", customer.to_string())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            get_as(busy).await.unwrap().status(),
            NOT_FOUND,
            "no cart yet, but let in"
        );
    }
    let limited = get_as(busy).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(
        get_as(calm).await.unwrap().status(),
        NOT_FOUND,
        "another caller is not limited"
    );

    // The address's bucket (8) holds every request from it, whoever sends them.
    let products = format!("{}/products", app.url(Service::Product));
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.http.get(&products).send().await.unwrap().status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Probes are outside the limits.
    let health = app
        .http
        .get(format!("{}/health", app.url(Service::Cart)))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), OK);
    app.stop().await;
}

/// In OIDC mode a customer's record carries the address their token verified: nobody
/// registers (or switches to) someone else's, and the 409 of a taken address does not
/// say which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_takes_the_tokens_verified_email_only_and_a_conflict_does_not_echo_it() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    let ann = Uuid::new_v4();
    let body = |email: &str| Some(json!({ "name": "Ann", "email": email }));
    let customers = "/customers";
    let post = |who: Who, email: &str| {
        call(
            &app,
            who,
            Method::POST,
            Service::Customer,
            customers,
            body(email),
        )
    };
    // Someone else's address with Ann's verified token: refused, and not echoed.
    let victim = "victim@example.com";
    let (status, problem) = post(Who::Verified(ann, "ann@example.com"), victim).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(!problem.to_string().contains(victim), "{problem}");
    // A token without an email, or with one not verified: refused.
    let (status, _) = post(Who::Customer(ann), "ann@example.com").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut unverified = TestIssuer::claims(&ann.to_string());
    unverified["email"] = json!("ann@example.com");
    unverified["email_verified"] = json!(false);
    let response = app
        .http
        .post(format!("{}/customers", app.url(Service::Customer)))
        .bearer_auth(TestIssuer::sign_customer(&unverified))
        .json(&json!({ "name": "Ann", "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN).await;
    let count = "SELECT count(*) FROM customers";
    assert_eq!(app.count(Service::Customer, count).await, 0);

    // Her own address (whatever its case) is hers.
    let ann_signed_in = Who::Verified(ann, "Ann@Example.com");
    let (status, created) = post(ann_signed_in, "ann@example.com").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Nor may she switch to someone else's address later.
    let own = format!("/customers/{ann}");
    let put = |email: &str| {
        call(
            &app,
            ann_signed_in,
            Method::PUT,
            Service::Customer,
            &own,
            body(email),
        )
    };
    assert_eq!(put(victim).await.0, StatusCode::FORBIDDEN);
    assert_eq!(put("ann@example.com").await.0, OK);

    // A taken address: 409, without naming it.
    let taken = "taken@example.com";
    app.create_customer("Tess", taken).await;
    let (status, problem) = post(Who::Verified(Uuid::new_v4(), taken), taken).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        !problem.to_string().contains(taken),
        "the address is echoed: {problem}"
    );
    assert_eq!(app.count(Service::Customer, count).await, 2);
    app.stop().await;
}

/// The per-caller bucket belongs to a verified caller: made-up credentials (garbage or
/// forged bearer tokens, `X-Customer-Id`, which means nothing in OIDC mode) all share
/// their address's bucket, however often they change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_made_up_credentials_from_one_address_does_not_escape_its_limit() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(
        &issuer,
        &[
            ("RATE_LIMIT_CALLER_PER_SEC", "1"),
            ("RATE_LIMIT_CALLER_BURST", "3"),
            ("RATE_LIMIT_IP_PER_SEC", "0"),
        ],
    )
    .await;
    let cart = format!("{}/cart", app.url(Service::Cart));
    let mut statuses = Vec::new();
    for i in 0..10 {
        let someone = Uuid::new_v4();
        let request = app
            .http
            .get(&cart)
            .header("X-Customer-Id", someone.to_string());
        let request = match i % 3 {
            0 => request.bearer_auth(format!("garbage.{someone}.token")),
            1 => request.bearer_auth(sign_with(
                &TestIssuer::claims(&someone.to_string()),
                Algorithm::RS256,
                RSA_KID,
                &forger_key(),
            )),
            _ => request,
        };
        statuses.push(request.send().await.unwrap().status());
    }
    let refused = statuses.iter().filter(|s| **s == UNAUTHORIZED).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused + limited, statuses.len(), "{statuses:?}");
    assert!(
        (3..=4).contains(&refused),
        "one bucket of 3 for the address: {statuses:?}"
    );
    // A verified customer from the same address has a bucket of their own.
    let (status, _) = call(
        &app,
        Who::Customer(Uuid::new_v4()),
        Method::GET,
        Service::Cart,
        "/cart",
        None,
    )
    .await;
    assert_eq!(status, NOT_FOUND, "no cart yet, but let in");
    app.stop().await;
}

/// Reads `response` (a live stream) until the service ends it, failing after `limit`.
async fn ends_within(mut response: reqwest::Response, limit: Duration, what: &str) {
    tokio::time::timeout(limit, async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: the stream still runs after {limit:?}"));
}

/// A push stream re-checks its caller's sign-in: it ends when the token expires, and
/// within the re-check interval once the customer is deleted; a valid sign-in's
/// stream stays open across re-checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_stream_ends_when_its_token_expires_or_its_customer_is_deleted() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(
        &issuer,
        &[
            ("AUTH_CLOCK_SKEW_SECS", "0"),
            ("PUSH_STREAM_RECHECK_SECS", "1"),
        ],
    )
    .await;
    let stream_of = |id: Uuid, token: String| {
        app.http
            .get(format!("{}/push/{id}/stream", app.url(Service::EmailPush)))
            .bearer_auth(token)
            .send()
    };

    let short = Uuid::new_v4();
    let mut claims = TestIssuer::claims(&short.to_string());
    claims["exp"] = json!(chrono::Utc::now().timestamp() + 3);
    let response = stream_of(short, TestIssuer::sign_customer(&claims))
        .await
        .unwrap();
    assert_eq!(response.status(), OK);
    let opened = Instant::now();
    ends_within(response, Duration::from_secs(10), "an expired token").await;
    assert!(
        opened.elapsed() >= Duration::from_secs(1),
        "it lasted while the token did"
    );

    let gus = Uuid::new_v4();
    sign_up(&app, gus, "Gus", "gus@example.com").await;
    let mut response = stream_of(gus, TestIssuer::customer_token(gus))
        .await
        .unwrap();
    assert_eq!(response.status(), OK);
    let quiet = tokio::time::timeout(Duration::from_millis(2500), response.chunk()).await;
    assert!(quiet.is_err(), "still open after two re-checks: {quiet:?}");
    delete_account(&app, gus).await;
    ends_within(response, Duration::from_secs(30), "a deleted customer").await;
    app.stop().await;
}

/// One caller holds at most five live push streams at once; the sixth is a 429 until
/// one closes, and other callers are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_holds_at_most_five_push_streams_at_once() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    let ann = Uuid::new_v4();
    let path = format!("/push/{ann}/stream");
    let url = format!("{}{path}", app.url(Service::EmailPush));
    let open = || {
        app.http
            .get(&url)
            .bearer_auth(TestIssuer::customer_token(ann))
            .send()
    };
    let mut streams = Vec::new();
    for _ in 0..5 {
        let response = open().await.unwrap();
        assert_eq!(response.status(), OK);
        streams.push(response);
    }
    let sixth = open().await.unwrap();
    assert!(sixth.headers().contains_key("retry-after"));
    assert_problem(sixth, StatusCode::TOO_MANY_REQUESTS).await;
    let (status, _) = call(
        &app,
        Who::Staff,
        Method::GET,
        Service::EmailPush,
        &path,
        None,
    )
    .await;
    assert_eq!(status, OK, "staff watching Ann's inbox count as themselves");

    drop(streams.pop());
    eventually_within(
        Duration::from_secs(30),
        "the closed stream's place",
        || async { (open().await.unwrap().status() == OK).then_some(()) },
    )
    .await;
    app.stop().await;
}

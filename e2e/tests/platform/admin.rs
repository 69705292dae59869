//! The operator's `/admin` routes (bearer token from `ADMIN_TOKEN`) and `cartflow
//! events`: a consumer loses an event, the event is replayed from the producer's log,
//! and it takes effect exactly once however often it is replayed.

use crate::helpers::{
    TestApp, assert_problem, cartflow, eventually, sh_block, spawn_app, spawn_app_with,
};
use cartflow_events::Service;
use notification_service::domain::Status;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

const TOKEN: &str = "test-admin-token-0123456789";

/// An `/admin` request to `service`, with `token` as bearer if given.
async fn admin(
    app: &TestApp,
    service: Service,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.url(service)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

const ROUTES: [(&str, &str); 5] = [
    ("GET", "/admin/dead-letters"),
    ("POST", "/admin/dead-letters/replay"),
    ("GET", "/admin/events"),
    ("GET", "/admin/failures"),
    ("POST", "/admin/events/replay"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_answer_401_without_the_configured_token() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN)]).await;
    for (method, path) in ROUTES {
        let method: Method = method.parse().unwrap();
        let body = (method == Method::POST).then(|| json!({ "event_type": "order.created" }));
        for token in [None, Some("not-the-token-0123456789"), Some("")] {
            let response = admin(
                &app,
                Service::Order,
                method.clone(),
                path,
                token,
                body.clone(),
            )
            .await;
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}"
            );
            assert_problem(response, StatusCode::UNAUTHORIZED).await;
        }
    }
    // With the token, the log is readable.
    let response = admin(
        &app,
        Service::Order,
        Method::GET,
        "/admin/events",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let log: Value = response.json().await.unwrap();
    assert!(log["items"].is_array(), "{log}");
    // A replay must say what to replay, and takes no unknown fields (a typo must not
    // widen it to everything).
    for body in [json!({}), json!({ "event_id": Uuid::new_v4() })] {
        let response = admin(
            &app,
            Service::Order,
            Method::POST,
            "/admin/events/replay",
            Some(TOKEN),
            Some(body),
        )
        .await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let response = admin(
        &app,
        Service::Inventory,
        Method::POST,
        "/admin/dead-letters/replay",
        Some(TOKEN),
        Some(json!({ "subscription": "cart.order.created.dead-letter" })),
    )
    .await;
    let detail = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        detail.contains("inventory.order-requested.dead-letter"),
        "{detail}"
    );
    app.stop().await;

    // Without ADMIN_TOKEN the routes are off, and say how to turn them on.
    let app = spawn_app().await;
    let response = admin(
        &app,
        Service::Cart,
        Method::GET,
        "/admin/events",
        Some(TOKEN),
        None,
    )
    .await;
    let detail = assert_problem(response, StatusCode::UNAUTHORIZED).await;
    assert!(detail.contains("ADMIN_TOKEN"), "{detail}");
    app.stop().await;
}

/// Acks every message on `subscription` until one of saga `cart_id` was among them:
/// an event lost to its consumer, as a purged subscription or a crashed emulator would lose it.
async fn steal(app: &TestApp, subscription: &str, cart_id: &str) {
    let pubsub = app.infra.pubsub();
    let subscriber = pubsub.subscriber().await.unwrap();
    let mut stream = subscriber
        .subscribe(pubsub.subscription_path(subscription))
        .build();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let next = tokio::time::timeout_at(deadline.into(), stream.next()).await;
        let (message, handler) = next
            .expect("the event to steal never came")
            .expect("stream ended")
            .expect("pulling");
        handler.ack();
        if message.attributes.get("correlation_id").map(String::as_str) == Some(cart_id) {
            break;
        }
    }
    stream.shutdown_token().shutdown().await;
}

async fn duplicates_seen(app: &TestApp, service: Service, event_type: &str, saga: &str) -> i32 {
    sqlx::query_scalar(
        "SELECT coalesce(max(duplicate_deliveries), -1) FROM processed_messages
         WHERE event_type = $1 AND correlation_id = $2",
    )
    .bind(event_type)
    .bind(saga)
    .fetch_one(app.pool(service))
    .await
    .unwrap()
}

async fn mails_to(app: &TestApp, email: &str) -> usize {
    app.mails()
        .iter()
        .filter(|m| m.to.iter().any(|to| to == email))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_event_is_replayed_from_the_log_and_takes_effect_once() {
    let mut app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN)]).await;
    app.create_product("LOG-1", 1500, 10).await;
    let email = "replay@example.com";
    let customer = app.create_customer("Replay", email).await;
    app.wait_for_contact(customer, email).await;

    // Notification is down while the order is created, and its copy of order-created
    // is taken away: without a replay the customer would never hear of the order.
    app.platform_mut()
        .stop_service(Service::Notification)
        .await
        .unwrap();
    let order_id = app.checkout(customer, "LOG-1", 2).await;
    let saga = app.settled_cart(customer).await.id.to_string();
    steal(&app, "notification.order.created", &saga).await;
    // The receipt that follows the capture is not the event under test: taken away too.
    steal(&app, "notification.payment.captured", &saga).await;
    app.platform_mut()
        .start_service(Service::Notification)
        .await
        .unwrap();
    assert!(app.notifications(customer).await.is_empty());

    // The order service's log has the event.
    let log: Value = admin(
        &app,
        Service::Order,
        Method::GET,
        &format!("/admin/events?correlation_id={saga}"),
        Some(TOKEN),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let published = log["items"].as_array().unwrap();
    assert_eq!(published.len(), 1, "{log}");
    assert_eq!(published[0]["event_type"], "order.created");
    assert!(published[0]["published_at"].is_string());

    // A dry run matches it and changes nothing.
    let select = json!({ "correlation_id": saga, "event_type": "order.created" });
    let mut dry = select.clone();
    dry["dry_run"] = true.into();
    let report: Value = admin(
        &app,
        Service::Order,
        Method::POST,
        "/admin/events/replay",
        Some(TOKEN),
        Some(dry),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (report["matched"].as_u64(), report["requeued"].as_u64()),
        (Some(1), Some(0))
    );

    // Replayed: notification tells the customer once; cart, which had the event,
    // recognises the copy and skips it.
    let report: Value = admin(
        &app,
        Service::Order,
        Method::POST,
        "/admin/events/replay",
        Some(TOKEN),
        Some(select),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (report["matched"].as_u64(), report["requeued"].as_u64()),
        (Some(1), Some(1))
    );
    eventually("the replayed order to be announced", || async {
        (mails_to(&app, email).await == 1).then_some(())
    })
    .await;
    eventually("cart to skip its copy", || async {
        (duplicates_seen(&app, Service::Cart, "order.created", &saga).await == 1).then_some(())
    })
    .await;
    // The replay's delivery results written too (they are in email-push's log once
    // notification has settled both): the whole saga is in the logs before the CLI
    // reads them. Without this the CLI could match one event fewer than counted below.
    eventually("both notifications to be settled", || async {
        let notifications = app.notifications(customer).await;
        (notifications.len() == 2 && notifications.iter().all(|n| n.status == Status::Sent))
            .then_some(())
    })
    .await;

    // Every event of the saga, whoever published it (cart, inventory, payment, order,
    // notification, email-push), before the replay.
    let logged = cartflow::timeline::collect(
        &app.infra.settings.server_url,
        &app.infra.settings.database_prefix,
        &saga,
    )
    .await
    .unwrap()
    .into_iter()
    .filter(|e| e.what == "published")
    .count();
    // The CLI replays the whole saga from every service's log: every consumer but one
    // already has every event, so nothing happens twice. The one is notification's copy
    // of the receipt (payment.captured), taken away above: it arrives now, once.
    let (stdout, stderr) = cartflow(
        &app,
        &[
            "events",
            "replay",
            "--correlation-id",
            &saga,
            "--wait",
            "30",
        ],
    )
    .await;
    assert!(logged >= 5, "{logged} events logged");
    assert!(
        stdout.contains(&format!(
            "{logged} event(s) matched, {logged} published again"
        )),
        "{logged} logged; {stdout}"
    );
    assert!(
        stderr.contains(&format!("] {logged}/{logged} published again")),
        "progress: {stderr}"
    );
    // The end of the chain has seen its copies: so has everything before it.
    eventually("every copy to be skipped", || async {
        let results = duplicates_seen(&app, Service::Notification, "delivery.result", &saga).await;
        let requests = duplicates_seen(&app, Service::EmailPush, "delivery.requested", &saga).await;
        let orders = duplicates_seen(&app, Service::Order, "payment.authorized", &saga).await;
        (results >= 1 && requests >= 1 && orders >= 1).then_some(())
    })
    .await;
    eventually("the receipt, told at last", || async {
        (mails_to(&app, email).await == 2).then_some(())
    })
    .await;
    assert_eq!(
        mails_to(&app, email).await,
        2,
        "one confirmation and one receipt"
    );
    let orders = app.orders(&format!("customer_id={customer}")).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].id.to_string(), order_id);
    assert_eq!(app.stock("LOG-1").await, (8, 2), "stock moved once");
    let pushes = app
        .count(
            Service::Notification,
            "SELECT count(*) FROM notifications WHERE kind = 'order_confirmed'",
        )
        .await;
    assert_eq!(pushes, 2, "one email and one push notification");
    app.stop().await;
}

/// docs/operations.md's admin examples (its `sh` block that calls `/admin/…`) run with
/// bash and curl against a platform: every call answers 2xx. The page's local ports are
/// the services' default ports; here each names the test's service on that port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_pages_admin_examples_answer_as_documented() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN)]).await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = Uuid::new_v4();
    app.checkout(customer, "KB-1", 1).await;
    let cart_id = app.settled_cart(customer).await.id;

    let page = include_str!("../../../docs/operations.md");
    let block = sh_block(page, "/admin/")
        .expect("docs/operations.md shows the admin routes in an sh block");
    let mut script = block
        .replace("$(openssl rand -hex 16)", TOKEN)
        .replace("<cart_id>", &cart_id.to_string());
    for service in cartflow_platform::SERVICES {
        let local = format!("localhost:{}", service.default_port());
        script = script.replace(&local, &app.url(service));
    }
    assert!(
        !script.contains("localhost:"),
        "a port no service has:\n{script}"
    );
    // `curl -f`: an answer outside 2xx fails the script.
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -eu\ncurl() {{ command curl -f \"$@\"; }}\n{script}"
        ))
        .output()
        .await
        .expect("running bash");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the examples failed:\n{script}\n{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The log example found the checkout's order.created, and the replay matched it.
    assert!(out.contains(r#""event_type":"order.created""#), "{out}");
    assert!(out.contains(r#""matched":1"#), "{out}");
    app.stop().await;
}

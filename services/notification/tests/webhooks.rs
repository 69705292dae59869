//! Outgoing webhooks against the real emulator and PostgreSQL: notification runs as it
//! does in production (its consumers, its worker, its routes on a port), events are
//! published to its topics, and the endpoints are real HTTP servers on loopback inside
//! the test (`cartflow_testkit::webhook_receiver`): each checks every signature with its
//! own HMAC-SHA256 (not the signing crate) and deduplicates by `webhook-id`, as
//! docs/webhooks.md tells receivers.

use axum::Router;
use axum::http::StatusCode;
use cartflow_events::{
    Event, LineItem, LowStock, OrderCancelled, OrderCreated, OrderDelivered, OrderShipped,
    OrderStatusChanged, PaymentCaptured, PaymentRefunded, ProductChanged, Service, Sku,
};
use cartflow_kit::config::database_url_for;
use cartflow_kit::{Env, RunningService, ServiceConfig, databases};
use cartflow_testkit::webhook_receiver::{Behaviour, Receiver};
use cartflow_testkit::{TestInfra, envelope_for, eventually, eventually_within};
use chrono::{DateTime, Utc};
use notification_service::NotificationApp;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

// ---------------------------------------------------------------------------------
// Notification, running for real.

struct Notification {
    infra: TestInfra,
    service: Option<RunningService>,
    stop: CancellationToken,
    http: reqwest::Client,
    url: String,
}

impl Notification {
    async fn start(settings: &[(&str, &str)]) -> Notification {
        let infra = TestInfra::new().await;
        let name = Service::Notification.prefixed_database_name(&infra.database_prefix);
        databases::ensure(&infra.server_url, &name).await.unwrap();
        let pubsub = infra.pubsub();
        let mut env = Env::from_pairs([
            (
                "NOTIFICATION_DATABASE_URL",
                database_url_for(&infra.server_url, &name).unwrap(),
            ),
            (
                "PUBSUB_EMULATOR_HOST",
                pubsub.emulator_host.clone().unwrap(),
            ),
            ("PUBSUB_PROJECT_ID", pubsub.project_id.clone()),
            ("CARTFLOW_TOPIC_PREFIX", pubsub.topic_prefix.clone()),
            ("NOTIFICATION_PORT", "0".into()),
            ("WEBHOOK_POLL_MS", "50".into()),
            ("WEBHOOK_TIMEOUT_MS", "3000".into()),
            ("WEBHOOK_RETRY_BASE_MS", "100".into()),
            ("WEBHOOK_RETRY_MAX_MS", "400".into()),
        ]);
        for (key, value) in settings {
            env.set(*key, *value);
        }
        let app = NotificationApp::from_env(&env).expect("settings");
        let config = ServiceConfig::from_env(Service::Notification, &env).expect("settings");
        let stop = CancellationToken::new();
        let service = cartflow_kit::runtime::start(app, config, stop.clone())
            .await
            .expect("notification starts");
        let url = service.url();
        Notification {
            infra,
            service: Some(service),
            stop,
            http: reqwest::Client::new(),
            url,
        }
    }

    async fn call(
        &self,
        caller: &[(&str, &str)],
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        for (name, value) in caller {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(
                content_type.as_deref(),
                Some("application/problem+json"),
                "{text}"
            );
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn staff(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(&[("x-role", "staff")], method, path, body).await
    }

    /// Asks staff to subscribe `url`; asserts the refusal and returns its detail.
    async fn refused(&self, url: &str, events: &[&str]) -> String {
        let (status, problem) = self
            .staff(
                reqwest::Method::POST,
                "/webhooks",
                Some(json!({ "url": url, "events": events })),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {problem}");
        problem["detail"].as_str().unwrap().to_string()
    }

    /// Subscribes `receiver` to `events`; it learns the secret.
    async fn subscribe(&self, receiver: &Receiver, events: &[&str]) -> Uuid {
        let (status, created) = self
            .staff(
                reqwest::Method::POST,
                "/webhooks",
                Some(json!({ "url": receiver.url, "events": events })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        receiver.knows(created["secret"].as_str().unwrap());
        created["id"].as_str().unwrap().parse().unwrap()
    }

    async fn endpoint(&self, id: Uuid) -> Value {
        let (status, endpoint) = self
            .staff(reqwest::Method::GET, &format!("/webhooks/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{endpoint}");
        endpoint
    }

    async fn deliveries(&self, id: Uuid, status: &str) -> Vec<Value> {
        let (code, page) = self
            .staff(
                reqwest::Method::GET,
                &format!("/webhooks/{id}/deliveries?status={status}"),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{page}");
        page["items"].as_array().unwrap().clone()
    }

    /// Publishes `event` as its producer would, `copies` times (the same event id).
    async fn publish<E: Event + Serialize>(
        &self,
        event: &E,
        occurred_at: DateTime<Utc>,
        copies: usize,
    ) -> Uuid {
        let mut envelope = envelope_for::<E>(Uuid::new_v4());
        envelope.occurred_at = occurred_at;
        self.infra.publish_raw(&envelope, event, copies).await;
        envelope.event_id
    }

    async fn stop(mut self) {
        self.stop.cancel();
        if let Some(service) = self.service.take() {
            service.stopped().await.unwrap();
        }
    }
}

fn line() -> LineItem {
    LineItem {
        product_sku: Sku::parse("KB-1").unwrap(),
        quantity: 2,
        unit_price_cents: 1250,
    }
}

fn order_created() -> OrderCreated {
    OrderCreated {
        order_id: Uuid::new_v4(),
        cart_id: Uuid::new_v4(),
        checkout_id: Some(Uuid::new_v4()),
        customer_id: Uuid::new_v4(),
        items: vec![line()],
        total_cents: 2500,
        shipping_address: None,
    }
}

fn status_changed(status: &str) -> OrderStatusChanged {
    OrderStatusChanged {
        order_id: Uuid::new_v4(),
        cart_id: Uuid::new_v4(),
        customer_id: Uuid::new_v4(),
        status: status.into(),
    }
}

const ALL: [&str; 8] = cartflow_api::webhook::EVENT_TYPES;

// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_staff_subscribe_and_only_safe_urls_that_answer_the_verification() {
    let notification = Notification::start(&[]).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    let body = json!({ "url": receiver.url, "events": ["order.created"] });
    let post = reqwest::Method::POST;

    let (status, _) = notification
        .call(&[], post.clone(), "/webhooks", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous");
    let customer = Uuid::new_v4().to_string();
    let as_customer = [("x-customer-id", customer.as_str())];
    let (status, _) = notification
        .call(&as_customer, post.clone(), "/webhooks", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a customer");
    let (status, _) = notification
        .call(&as_customer, reqwest::Method::GET, "/webhooks", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a customer lists");

    for (url, why) in [
        ("http://hooks.example.com/x", "https"),
        ("https://10.0.0.7/x", "private"),
        ("https://192.168.1.10/x", "private"),
        ("https://169.254.169.254/computeMetadata/v1/", "metadata"),
        ("https://[::ffff:169.254.169.254]/", "metadata"),
        ("https://metadata.google.internal/", "metadata"),
        ("https://[fd00::1]/x", "private"),
        ("https://[fe80::1]/x", "link-local"),
    ] {
        let refusal = notification.refused(url, &["order.created"]).await;
        assert!(refusal.contains(why), "{url}: {refusal}");
    }
    let refusal = notification.refused(&receiver.url, &["order.eaten"]).await;
    assert!(refusal.contains("'order.eaten' is not one of"), "{refusal}");
    // A URL that answers 200 to anything but does not echo the challenge is not
    // subscribed, nor is one where nobody listens.
    let blind = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = Router::new().route("/", axum::routing::post(|| async { StatusCode::OK }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    };
    let nobody = format!("http://127.0.0.1:{}/", cartflow_testkit::free_port());
    for url in [blind, nobody] {
        let refusal = notification.refused(&url, &["order.created"]).await;
        assert!(refusal.contains("verification"), "{url}: {refusal}");
    }
    let (_, listed) = notification
        .staff(reqwest::Method::GET, "/webhooks", None)
        .await;
    assert_eq!(
        listed,
        json!({ "items": [], "next_page_token": null }),
        "nothing refused was stored"
    );

    // Staff, a loopback receiver (allowed with the emulator) that echoes the challenge.
    let (status, created) = notification
        .staff(
            post.clone(),
            "/webhooks",
            Some(json!({ "url": receiver.url, "events": ["order.created", "order.created", "product.changed"], "description": "ERP" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(
        created["events"],
        json!(["order.created", "product.changed"])
    );
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let shown = notification.endpoint(id).await;
    assert!(
        !shown.to_string().contains(secret),
        "the secret is shown only once"
    );
    assert_eq!(shown["status"], "active");
    let (_, listed) = notification
        .staff(reqwest::Method::GET, "/webhooks", None)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["next_page_token"], Value::Null);

    let (status, paused) = notification
        .staff(post.clone(), &format!("/webhooks/{id}/pause"), None)
        .await;
    assert_eq!(
        (status, paused["status"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    let (status, resumed) = notification
        .staff(post.clone(), &format!("/webhooks/{id}/resume"), None)
        .await;
    assert_eq!(
        (status, resumed["status"].as_str()),
        (StatusCode::OK, Some("active"))
    );
    let (status, _) = notification
        .staff(reqwest::Method::DELETE, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = notification
        .staff(reqwest::Method::GET, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    notification.stop().await;
}

/// Every event type, each published twice (the same event id, as a relay that crashed
/// after publishing sends it again), reaches each endpoint subscribed to it once,
/// signed, with its payload, `type`, `id` and `timestamp`; an endpoint hears nothing it
/// did not subscribe to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscribed_event_reaches_each_endpoint_once_signed() {
    let notification = Notification::start(&[]).await;
    let (everything, orders) = (
        Receiver::start(Behaviour::Ok).await,
        Receiver::start(Behaviour::Ok).await,
    );
    notification.subscribe(&everything, &ALL).await;
    notification
        .subscribe(
            &orders,
            &[
                "order.created",
                "order.cancelled",
                "order.shipped",
                "order.delivered",
            ],
        )
        .await;

    let created = order_created();
    let now = Utc::now();
    let mut published: HashMap<Uuid, &str> = HashMap::new();
    let mut publish = |id: Uuid, kind: &'static str| {
        published.insert(id, kind);
    };
    publish(
        notification.publish(&created, now, 2).await,
        "order.created",
    );
    let cancelled = OrderCancelled {
        order_id: created.order_id,
        cart_id: created.cart_id,
        checkout_id: created.checkout_id,
        customer_id: created.customer_id,
        items: vec![line()],
        reason: "changed my mind".into(),
    };
    publish(
        notification.publish(&cancelled, now, 2).await,
        "order.cancelled",
    );
    publish(
        notification
            .publish(&OrderShipped(status_changed("shipped")), now, 2)
            .await,
        "order.shipped",
    );
    publish(
        notification
            .publish(&OrderDelivered(status_changed("delivered")), now, 2)
            .await,
        "order.delivered",
    );
    let payment = |amount_cents| {
        (
            Uuid::new_v4(),
            created.order_id,
            Uuid::new_v4(),
            created.customer_id,
            amount_cents,
        )
    };
    let (payment_id, order_id, checkout_id, customer_id, amount_cents) = payment(2500);
    publish(
        notification
            .publish(
                &PaymentCaptured {
                    payment_id,
                    order_id,
                    checkout_id,
                    customer_id,
                    amount_cents,
                    card: None,
                },
                now,
                2,
            )
            .await,
        "payment.captured",
    );
    publish(
        notification
            .publish(
                &PaymentRefunded {
                    payment_id,
                    order_id,
                    checkout_id,
                    customer_id,
                    amount_cents,
                },
                now,
                2,
            )
            .await,
        "payment.refunded",
    );
    publish(
        notification
            .publish(
                &LowStock {
                    product_sku: Sku::parse("KB-1").unwrap(),
                    available: 2,
                    threshold: 3,
                },
                now,
                2,
            )
            .await,
        "inventory.low-stock",
    );
    publish(
        notification
            .publish(
                &ProductChanged {
                    sku: Sku::parse("KB-1").unwrap(),
                    name: "Keyboard".into(),
                    price_cents: 1250,
                    active: true,
                    version: 7,
                },
                now,
                2,
            )
            .await,
        "product.changed",
    );

    let got = everything.has(8).await;
    orders.has(4).await;
    let mut expected: Vec<String> = published.keys().map(Uuid::to_string).collect();
    expected.sort();
    assert_eq!(everything.ids(), expected);
    let mut expected_orders: Vec<String> = published
        .iter()
        .filter(|(_, kind)| kind.starts_with("order."))
        .map(|(id, _)| id.to_string())
        .collect();
    expected_orders.sort();
    assert_eq!(orders.ids(), expected_orders);
    for message in &got {
        let id: Uuid = message.id.parse().unwrap();
        assert_eq!(
            message.body["id"],
            message.id.as_str(),
            "webhook-id is the event id"
        );
        assert_eq!(message.body["type"], published[&id]);
        assert!(DateTime::parse_from_rfc3339(message.body["timestamp"].as_str().unwrap()).is_ok());
        assert_eq!(
            message.signatures,
            vec![Some(0)],
            "one signature, by the endpoint's secret"
        );
    }
    let order = got
        .iter()
        .find(|m| m.body["type"] == "order.created")
        .unwrap();
    assert_eq!(order.body["order_id"], created.order_id.to_string());
    assert_eq!(order.body["total_cents"], 2500);
    let product = got
        .iter()
        .find(|m| m.body["type"] == "product.changed")
        .unwrap();
    assert_eq!(product.body["sku"], "KB-1");

    // Every duplicate message was consumed (and skipped) before anything more could
    // have been sent: the inbox saw both copies of each event.
    let pool = notification.service.as_ref().unwrap().pool.clone();
    eventually("both copies of every event consumed", || async {
        let duplicates: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(duplicate_deliveries), 0)::bigint FROM processed_messages WHERE event_id = ANY($1)",
        )
        .bind(published.keys().copied().collect::<Vec<_>>())
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
        (duplicates >= 8).then_some(())
    })
    .await;
    // Counted by outcome, and timed.
    let metrics_url = format!("{}/metrics", notification.url);
    eventually("twelve deliveries counted", || async {
        let text = notification
            .http
            .get(&metrics_url)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let delivered: f64 = text
            .lines()
            .find(|l| {
                l.starts_with("cartflow_webhook_deliveries_total{")
                    && l.contains("outcome=\"delivered\"")
            })?
            .rsplit(' ')
            .next()?
            .parse()
            .ok()?;
        let timed = text
            .lines()
            .any(|l| l.starts_with("cartflow_webhook_call_duration_seconds_count"));
        (delivered == 12.0 && timed).then_some(())
    })
    .await;
    for receiver in [&everything, &orders] {
        let inbox = receiver.inbox.lock().unwrap();
        assert_eq!((inbox.copies, inbox.forged), (0, 0), "{}", receiver.url);
    }
    notification.stop().await;
}

/// An endpoint that answers 500 for a while gets everything once it recovers, in the
/// order the events happened; one that never answers delays neither the other
/// endpoints nor the consumption of the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_gets_everything_in_order_after_backoff_and_a_hanging_one_slows_no_one()
{
    let notification = Notification::start(&[("WEBHOOK_TIMEOUT_MS", "5000")]).await;
    let (flaky, hanging, healthy) = (
        Receiver::start(Behaviour::Ok).await,
        Receiver::start(Behaviour::Ok).await,
        Receiver::start(Behaviour::Ok).await,
    );
    let flaky_id = notification.subscribe(&flaky, &["order.created"]).await;
    let hanging_id = notification.subscribe(&hanging, &["order.created"]).await;
    notification.subscribe(&healthy, &["order.created"]).await;
    flaky.behave(Behaviour::Fail);
    hanging.behave(Behaviour::Hang);

    // Published newest first: the order of delivery is the order they happened.
    let base = Utc::now();
    let orders: Vec<OrderCreated> = (0..5).map(|_| order_created()).collect();
    let started = Instant::now();
    let mut ids = Vec::new();
    for (i, order) in orders.iter().enumerate().rev() {
        ids.push((
            i,
            notification
                .publish(order, base + chrono::Duration::milliseconds(i as i64), 1)
                .await,
        ));
    }
    ids.sort();

    // The healthy endpoint has all five well before the hanging one's first call times
    // out, and the events were consumed (their notifications recorded) as fast.
    healthy.has(5).await;
    let healthy_took = started.elapsed();
    assert!(
        healthy_took < Duration::from_millis(4000),
        "the healthy endpoint waited {healthy_took:?}"
    );
    let pool = notification.service.as_ref().unwrap().pool.clone();
    let consumed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE kind = 'order_confirmed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        consumed, 10,
        "email and push for each of the five, already recorded"
    );

    // The flaky endpoint: every event queued behind the retried head, then it recovers.
    eventually(
        "the flaky endpoint's five queued and the head retried",
        || async {
            let pending = notification.deliveries(flaky_id, "pending").await;
            let retried = pending.iter().any(|d| d["attempts"].as_i64() >= Some(2));
            (pending.len() == 5 && retried).then_some(())
        },
    )
    .await;
    flaky.behave(Behaviour::Ok);
    let got = flaky.has(5).await;
    let order: Vec<String> = got.iter().map(|m| m.id.clone()).collect();
    let expected: Vec<String> = ids.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(order, expected, "in the order the events happened");
    assert_eq!(flaky.inbox.lock().unwrap().copies, 0);

    // The head's attempts: 500s with the start of the answer, then the success.
    let first = notification.deliveries(flaky_id, "delivered").await;
    let head = first
        .iter()
        .find(|d| d["event_id"] == expected[0].as_str())
        .unwrap();
    let (_, detail) = notification
        .staff(
            reqwest::Method::GET,
            &format!(
                "/webhooks/{flaky_id}/deliveries/{}",
                head["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let attempts = detail["attempts_made"].as_array().unwrap();
    assert!(attempts.len() >= 3, "{detail}");
    let (last, failed) = attempts.split_last().unwrap();
    assert_eq!(last["status_code"], 204, "{detail}");
    for attempt in failed {
        assert_eq!(attempt["status_code"], 500, "{detail}");
        assert_eq!(attempt["response_head"], "nope, not today");
        assert!(attempt["latency_ms"].as_i64().unwrap() >= 0);
    }
    // Backoff between the failed calls: each wait at least 0.8 × the doubling base.
    let starts: Vec<DateTime<Utc>> = attempts
        .iter()
        .map(|a| a["started_at"].as_str().unwrap().parse().unwrap())
        .collect();
    for (n, pair) in starts.windows(2).enumerate() {
        let wait = (pair[1] - pair[0]).num_milliseconds();
        let floor = (100 * (1 << n)).min(400) * 8 / 10;
        assert!(wait >= floor, "wait {n} was {wait} ms, under {floor}");
    }

    // The hanging endpoint's first call timed out, recorded as such; nothing was
    // received there, and its later events wait behind its head.
    eventually_within(
        Duration::from_secs(20),
        "the hanging call timed out",
        || async {
            let pending = notification.deliveries(hanging_id, "pending").await;
            let timed_out = pending
                .iter()
                .find(|d| d["attempts"].as_i64() >= Some(1))?
                .clone();
            Some(timed_out)
        },
    )
    .await;
    assert_eq!(hanging.messages().len(), 0);
    let endpoint = notification.endpoint(hanging_id).await;
    assert!(endpoint["failing_since"].is_string(), "{endpoint}");
    notification.stop().await;
}

/// A delivery out of retries is parked; an endpoint failing longer than allowed is
/// paused; once fixed, staff replay what was parked and resume it, and all of it
/// arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_deliveries_are_replayed_and_an_endpoint_failing_too_long_is_paused() {
    let notification = Notification::start(&[
        ("WEBHOOK_MAX_ATTEMPTS", "3"),
        ("WEBHOOK_AUTO_PAUSE_SECS", "1"),
        ("WEBHOOK_ALERT_EMAIL", "ops@example.com"),
    ])
    .await;
    let down = Receiver::start(Behaviour::Ok).await;
    let id = notification.subscribe(&down, &["order.created"]).await;
    down.behave(Behaviour::Fail);
    let since = Utc::now();

    let first = notification.publish(&order_created(), Utc::now(), 1).await;
    let parked = eventually("the first delivery parked", || async {
        notification
            .deliveries(id, "parked")
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(parked["event_id"], first.to_string());
    assert_eq!(parked["attempts"], 3);
    assert_eq!(parked["last_status_code"], 500);

    // Failing for longer than the pause allows: the next failure pauses it.
    let endpoint = notification.endpoint(id).await;
    let failing_since: DateTime<Utc> = endpoint["failing_since"].as_str().unwrap().parse().unwrap();
    eventually("a second past the first failure", || async {
        (Utc::now() > failing_since + chrono::Duration::milliseconds(1100)).then_some(())
    })
    .await;
    let second = notification.publish(&order_created(), Utc::now(), 1).await;
    let paused = eventually("the endpoint paused", || async {
        let endpoint = notification.endpoint(id).await;
        (endpoint["status"] == "paused").then_some(endpoint)
    })
    .await;
    assert!(
        paused["paused_reason"].as_str().unwrap().contains("failed"),
        "{paused}"
    );
    assert_eq!(
        notification.deliveries(id, "pending").await.len(),
        1,
        "the second waits"
    );
    // Staff are told, by email, once.
    let pool = notification.service.as_ref().unwrap().pool.clone();
    let told: Vec<(String, String)> = sqlx::query_as(
        "SELECT subject, body FROM notifications WHERE kind = 'webhook_paused' AND recipient = 'ops@example.com'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].0.contains(&down.url) && told[0].1.contains("resume"),
        "{told:?}"
    );

    down.behave(Behaviour::Ok);
    let (status, replayed) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/replay"),
            Some(json!({ "since": since })),
        )
        .await;
    assert_eq!(
        (status, replayed["replayed"].as_u64()),
        (StatusCode::ACCEPTED, Some(1))
    );
    let (status, _) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/resume"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    down.has(2).await;
    assert_eq!(down.ids(), {
        let mut ids = vec![first.to_string(), second.to_string()];
        ids.sort();
        ids
    });

    // One delivered delivery replayed by hand arrives again under the same id, which
    // the receiver recognises as a copy.
    let delivered = notification.deliveries(id, "delivered").await;
    let one = delivered[0]["id"].as_str().unwrap();
    let (status, _) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/deliveries/{one}/replay"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually("the replayed copy arrives", || async {
        (down.inbox.lock().unwrap().copies == 1).then_some(())
    })
    .await;
    assert_eq!(down.messages().len(), 2);
    notification.stop().await;
}

/// After a rotation each call carries two signatures, the new secret's and the old
/// one's, until the overlap ends; then only the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends() {
    let notification = Notification::start(&[("WEBHOOK_SECRET_OVERLAP_SECS", "2")]).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    let id = notification.subscribe(&receiver, &["order.created"]).await;
    let (status, rotated) = notification
        .staff(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    receiver.knows(rotated["secret"].as_str().unwrap());
    let until: DateTime<Utc> = rotated["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    notification.publish(&order_created(), Utc::now(), 1).await;
    let during = receiver.has(1).await;
    assert!(
        Utc::now() < until,
        "the test was too slow to see the overlap"
    );
    let mut signers = during[0].signatures.clone();
    signers.sort();
    assert_eq!(
        signers,
        vec![Some(0), Some(1)],
        "the old secret's and the new one's"
    );

    eventually_within(Duration::from_secs(10), "the overlap over", || async {
        (Utc::now() > until).then_some(())
    })
    .await;
    notification.publish(&order_created(), Utc::now(), 1).await;
    let after = receiver.has(2).await;
    assert_eq!(after[1].signatures, vec![Some(1)], "the new secret's only");
    notification.stop().await;
}

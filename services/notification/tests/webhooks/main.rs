//! Outgoing webhooks against the real emulator and PostgreSQL: notification runs as it
//! does in production (its consumers, its worker, its routes on a port), events are
//! published to its topics, and the endpoints are real HTTP servers on loopback inside
//! the test (`cartflow_testkit::webhook_receiver`): each checks every signature with its
//! own HMAC-SHA256 (not the signing crate) and deduplicates by `webhook-id`, as
//! docs/webhooks.md tells receivers.
//!
//! This file starts notification for real and holds the events the tests publish; the
//! tests are in `endpoints` (subscribing, verification, secret rotation), `delivery`
//! (every event to each subscriber once, signed) and `failures` (back-off, hanging
//! endpoints, parking, pausing and replay).

mod delivery;
mod endpoints;
mod failures;

use axum::http::StatusCode;
use cartflow_events::{Event, LineItem, OrderCreated, OrderStatusChanged, Service, Sku};
use cartflow_kit::config::database_url_for;
use cartflow_kit::{Env, RunningService, ServiceConfig, databases};
use cartflow_testkit::webhook_receiver::Receiver;
use cartflow_testkit::{TestInfra, envelope_for};
use chrono::{DateTime, Utc};
use notification_service::NotificationApp;
use serde::Serialize;
use serde_json::{Value, json};
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

//! `spawn_app()`: the whole platform on free ports with per-test databases and a
//! per-test topic prefix, plus typed helpers for the REST calls the tests make.

use cartflow::platform::{Platform, PlatformSettings, SERVICES};
use cartflow::smtp_catcher::{CaughtMail, Restartable, SmtpCatcher};
use cartflow_events::{Envelope, Event, Service};
use cartflow_kit::Env;
use cartflow_kit::config::database_url_for;
use cartflow_kit::databases;
use cartflow_messaging::{PubSubConfig, provision};
use google_cloud_pubsub::model::Message;
use reqwest::{Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::future::Future;
use std::sync::Once;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const DEADLINE: Duration = Duration::from_secs(30);

fn init_logs() {
    static INIT: Once = Once::new();
    // Quiet by default; TEST_LOG=debug (or any filter) shows the services' logs.
    INIT.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            cartflow_kit::telemetry::init_with(&filter);
        }
    });
}

/// Infrastructure of one test: a topic prefix and database names on the shared
/// emulator and server. Dropping it deletes the topics, subscriptions and databases.
pub struct TestInfra {
    pub settings: PlatformSettings,
}

impl TestInfra {
    /// On the shared PostgreSQL server and emulator.
    pub async fn new() -> TestInfra {
        TestInfra::on(
            std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| cartflow_kit::config::DEFAULT_DATABASE_URL.into()),
            std::env::var("PUBSUB_EMULATOR_HOST").unwrap_or_else(|_| "127.0.0.1:8085".into()),
        )
        .await
    }

    /// On the given PostgreSQL server and emulator (a test's own, see `throwaway`).
    pub async fn on(server_url: String, emulator_host: String) -> TestInfra {
        init_logs();
        let id = &Uuid::new_v4().simple().to_string()[..10];
        let settings = PlatformSettings {
            server_url,
            database_prefix: format!("t_{id}_"),
            pubsub: PubSubConfig::emulator(emulator_host, "cartflow-local")
                .with_prefix(format!("t-{id}-")),
            port_override: Some(0),
            env: Env::from_pairs([("DB_MAX_CONNECTIONS", "5"), ("OUTBOX_SWEEP_MS", "500")]),
        };
        provision::provision(&settings.pubsub)
            .await
            .expect("provisioning the test topology");
        TestInfra { settings }
    }

    pub fn pubsub(&self) -> &PubSubConfig {
        &self.settings.pubsub
    }

    /// A database of this test, created and migrated for `migrator`.
    pub async fn database(&self, name: &str, migrator: &sqlx::migrate::Migrator) -> PgPool {
        let name = format!("{}{name}", self.settings.database_prefix);
        databases::ensure(&self.settings.server_url, &name)
            .await
            .expect("creating database");
        let url = database_url_for(&self.settings.server_url, &name).unwrap();
        let pool = cartflow_kit::db::connect(&url, 5)
            .await
            .expect("connecting");
        migrator.run(&pool).await.expect("migrating");
        pool
    }

    /// Publishes `payload` under `envelope` `times` times: the same event, as a relay
    /// that crashed after publishing would send it again.
    pub async fn publish_raw<E: Event + Serialize>(
        &self,
        envelope: &Envelope,
        payload: &E,
        times: usize,
    ) {
        let client = self.pubsub().publisher().await.unwrap();
        let publisher = client
            .publisher(self.pubsub().topic_path(E::TOPIC.name()))
            .build();
        for _ in 0..times {
            let message = Message::new()
                .set_data(serde_json::to_vec(payload).unwrap())
                .set_attributes(envelope.to_attributes())
                .set_ordering_key(payload.ordering_key());
            publisher.publish(message).await.expect("publishing");
        }
    }
}

impl Drop for TestInfra {
    fn drop(&mut self) {
        // Runs even when the test failed. A thread of its own: we may be inside the
        // test's runtime, which cannot block on itself.
        let settings = self.settings.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Err(e) = provision::teardown(&settings.pubsub).await {
                    eprintln!("cleanup: deleting topology: {e:#}");
                }
                let names = SERVICES.iter().map(|s| settings.database_name(*s)).chain(
                    ["scratch".to_string()].map(|n| format!("{}{n}", settings.database_prefix)),
                );
                for name in names {
                    if let Err(e) = databases::drop(&settings.server_url, &name).await {
                        eprintln!("cleanup: {e:#}");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The running platform of one test, with its own SMTP server.
pub struct TestApp {
    platform: Option<Platform>,
    pub http: reqwest::Client,
    smtp: SmtpState,
    // Declared last: dropped after the platform, so its databases go after it stops.
    pub infra: TestInfra,
}

enum SmtpState {
    Up(SmtpCatcher),
    Down(Restartable),
    Moving,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// `spawn_app` with extra settings for every service, e.g. `OUTBOX_PUBLISH_COPIES`.
pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    spawn_app_on(TestInfra::new().await, settings).await
}

/// `spawn_app_with` on the given infrastructure.
pub async fn spawn_app_on(mut infra: TestInfra, settings: &[(&str, &str)]) -> TestApp {
    let smtp = SmtpCatcher::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("starting the SMTP catcher");
    let env = &mut infra.settings.env;
    env.set("SMTP_HOST", "127.0.0.1")
        .set("SMTP_PORT", smtp.addr().port().to_string())
        .set("SMTP_MAX_ATTEMPTS", "3")
        .set("SMTP_RETRY_BASE_MS", "100")
        .set("SMTP_TIMEOUT_MS", "2000");
    for (key, value) in settings {
        env.set(*key, *value);
    }
    let platform = Platform::start(&infra.settings)
        .await
        .expect("starting the platform");
    TestApp {
        platform: Some(platform),
        http: reqwest::Client::new(),
        smtp: SmtpState::Up(smtp),
        infra,
    }
}

impl TestApp {
    pub fn platform(&self) -> &Platform {
        self.platform.as_ref().expect("platform stopped")
    }

    /// For stopping and restarting single services.
    pub fn platform_mut(&mut self) -> &mut Platform {
        self.platform.as_mut().expect("platform stopped")
    }

    /// The cart service, as a client calls it.
    pub fn cart_client(&self) -> cartflow_testkit::CartClient {
        cartflow_testkit::CartClient::new(self.http.clone(), self.url(Service::Cart))
    }

    pub fn url(&self, service: Service) -> String {
        self.platform().url(service)
    }

    pub fn pool(&self, service: Service) -> &PgPool {
        self.platform().pool(service)
    }

    /// Every email the SMTP server has accepted.
    pub fn mails(&self) -> Vec<CaughtMail> {
        match &self.smtp {
            SmtpState::Up(smtp) => smtp.mails(),
            _ => panic!("the SMTP server is down"),
        }
    }

    /// Takes the SMTP server down: connections are refused until [`TestApp::smtp_up`].
    pub async fn smtp_down(&mut self) {
        if let SmtpState::Up(smtp) = std::mem::replace(&mut self.smtp, SmtpState::Moving) {
            self.smtp = SmtpState::Down(smtp.stop().await);
        }
    }

    /// Brings the SMTP server back on the same port, with the same mailbox.
    pub async fn smtp_up(&mut self) {
        if let SmtpState::Down(stopped) = std::mem::replace(&mut self.smtp, SmtpState::Moving) {
            self.smtp = SmtpState::Up(stopped.start().await.expect("restarting the SMTP catcher"));
        }
    }

    /// Runs the `cartflow` operator CLI on this test's databases; returns its stdout and
    /// stderr after checking that it succeeded.
    pub async fn cartflow(&self, args: &[&str]) -> (String, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cartflow"))
            .args(args)
            .args(["--database-prefix", &self.infra.settings.database_prefix])
            .env("DATABASE_URL", &self.infra.settings.server_url)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("running cartflow");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "cartflow {args:?}: {stdout}\n{stderr}"
        );
        (stdout, stderr)
    }

    /// Creates a customer through the customer service and returns its id.
    pub async fn create_customer(&self, name: &str, email: &str) -> Uuid {
        let response = self
            .http
            .post(format!("{}/customers", self.url(Service::Customer)))
            .json(&json!({ "name": name, "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let customer: Value = response.json().await.unwrap();
        customer["id"].as_str().unwrap().parse().unwrap()
    }

    /// Waits until the notification service knows `customer`'s email as `email`.
    pub async fn wait_for_contact(&self, customer: Uuid, email: &str) {
        let pool = self.pool(Service::Notification);
        eventually(&format!("notification to learn {email}"), || async {
            let known: Option<String> = sqlx::query_scalar(
                "SELECT email FROM contacts WHERE customer_id = $1 AND NOT deleted",
            )
            .bind(customer)
            .fetch_optional(pool)
            .await
            .unwrap()
            .flatten();
            (known.as_deref() == Some(email)).then_some(())
        })
        .await
    }

    pub async fn notifications(&self, customer: Uuid) -> Vec<Value> {
        let list = self
            .get_json(
                Service::Notification,
                &format!("/notifications?customer_id={customer}"),
            )
            .await;
        serde_json::from_value(list).unwrap()
    }

    /// A converted checkout of `quantity` × `sku` for `customer`; returns the order id.
    pub async fn checkout(&self, customer: Uuid, sku: &str, quantity: i32) -> String {
        self.add(customer, sku, quantity).await;
        assert_eq!(self.convert(customer).await.status(), StatusCode::ACCEPTED);
        let cart = self.settled_cart(customer).await;
        assert_eq!(cart["status"], "converted", "{cart}");
        cart["order_id"].as_str().unwrap().to_string()
    }

    /// Stops every service gracefully and checks that they all stopped cleanly.
    pub async fn stop(mut self) {
        if let Some(platform) = self.platform.take() {
            platform.stop().await.expect("graceful shutdown");
        }
    }

    pub async fn create_product(&self, sku: &str, price_cents: i64, stock: i32) {
        let product = self
            .http
            .post(format!("{}/products", self.url(Service::Product)))
            .json(&json!({ "sku": sku, "name": format!("Product {sku}"), "price_cents": price_cents }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            product.status(),
            StatusCode::CREATED,
            "{}",
            product.text().await.unwrap()
        );
        let stock = self
            .http
            .post(format!("{}/inventory", self.url(Service::Inventory)))
            .json(&json!({ "sku": sku, "quantity": stock }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            stock.status(),
            StatusCode::CREATED,
            "{}",
            stock.text().await.unwrap()
        );
    }

    pub async fn add_item(&self, customer: Uuid, sku: &str, quantity: i32) -> Response {
        self.http
            .post(format!("{}/cart/items", self.url(Service::Cart)))
            .header("X-Customer-Id", customer.to_string())
            .json(&json!({ "product_sku": sku, "quantity": quantity }))
            .send()
            .await
            .unwrap()
    }

    /// Adds a line and insists it worked.
    pub async fn add(&self, customer: Uuid, sku: &str, quantity: i32) -> Value {
        let response = self.add_item(customer, sku, quantity).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn remove_item(&self, customer: Uuid, sku: &str) -> Response {
        self.http
            .delete(format!("{}/cart/items/{sku}", self.url(Service::Cart)))
            .header("X-Customer-Id", customer.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn convert(&self, customer: Uuid) -> Response {
        self.http
            .post(format!("{}/cart/convert-to-order", self.url(Service::Cart)))
            .header("X-Customer-Id", customer.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn cart(&self, customer: Uuid) -> Response {
        self.http
            .get(format!("{}/cart", self.url(Service::Cart)))
            .header("X-Customer-Id", customer.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Waits until the customer's cart has left checkout_pending, and returns it.
    pub async fn settled_cart(&self, customer: Uuid) -> Value {
        eventually("the checkout to end", || async {
            let cart: Value = self.cart(customer).await.json().await.ok()?;
            matches!(
                cart["status"].as_str(),
                Some("converted" | "stock_unavailable" | "checkout_expired")
            )
            .then_some(cart)
        })
        .await
    }

    /// Waits (up to `within`) until every one of `customers`' carts has left
    /// checkout_pending, and returns them.
    pub async fn settled_carts(&self, customers: &[Uuid], within: Duration) -> Vec<Value> {
        eventually_within(within, "every checkout to end", || async {
            let carts: Vec<Value> = futures::future::join_all(
                customers
                    .iter()
                    .map(|&c| async move { self.cart(c).await.json::<Value>().await.ok() }),
            )
            .await
            .into_iter()
            .collect::<Option<_>>()?;
            carts
                .iter()
                .all(|c| {
                    matches!(
                        c["status"].as_str(),
                        Some("converted" | "stock_unavailable" | "checkout_expired")
                    )
                })
                .then_some(carts)
        })
        .await
    }

    /// GETs `path` of `service`, expecting 200 and JSON.
    pub async fn get_json(&self, service: Service, path: &str) -> Value {
        let url = format!("{}{path}", self.url(service));
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// (available, reserved) of a SKU.
    pub async fn stock(&self, sku: &str) -> (i64, i64) {
        let item = self
            .get_json(Service::Inventory, &format!("/inventory/{sku}"))
            .await;
        (
            item["quantity"].as_i64().unwrap(),
            item["reserved"].as_i64().unwrap(),
        )
    }

    /// Runs a `SELECT count(*) …` in a service's database.
    pub async fn count(&self, service: Service, sql: &str) -> i64 {
        count(self.pool(service), sql).await
    }

    pub async fn orders(&self, query: &str) -> Vec<Value> {
        let orders = self
            .get_json(Service::Order, &format!("/orders?{query}"))
            .await;
        serde_json::from_value(orders).unwrap()
    }

    pub async fn cancel(&self, order_id: &str, body: Option<Value>) -> Response {
        let request = self.http.post(format!(
            "{}/orders/{order_id}/cancel",
            self.url(Service::Order)
        ));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.unwrap()
    }

    /// Waits until `service` has consumed `event_id` and seen at least `duplicates`
    /// more deliveries of it, which it must have skipped.
    pub async fn wait_for_duplicates(&self, service: Service, event_id: Uuid, duplicates: i32) {
        let pool = self.pool(service);
        eventually(&format!("{service} to see {duplicates} duplicate(s) of {event_id}"), || async {
            let seen: Option<i32> = sqlx::query_scalar(
                "SELECT duplicate_deliveries FROM processed_messages WHERE event_id = $1 AND service = $2",
            )
            .bind(event_id)
            .bind(service.name())
            .fetch_optional(pool)
            .await
            .unwrap();
            seen.filter(|&n| n >= duplicates).map(|_| ())
        })
        .await
    }
}

/// Runs a `SELECT count(*) …` on `pool`.
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Polls `probe` until it yields a value, failing the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(DEADLINE, what, probe).await
}

pub async fn eventually_within<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts an RFC 9457 problem response with `status`, and returns its detail.
pub async fn assert_problem(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "problem without {field}: {body}");
    }
    body["detail"].as_str().unwrap().to_string()
}

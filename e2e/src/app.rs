//! The running platform of one test: starting it, its parts, its SMTP catcher and
//! the operator CLI on its databases.

use super::duplicator::Duplicator;
use super::issuer::TestIssuer;
use super::{SmtpState, TestApp, TestInfra, count, eventually};
use cartflow_events::Service;
use cartflow_platform::Platform;
use cartflow_platform::gateway::GatewaySandbox;
use cartflow_platform::smtp_catcher::{CaughtMail, SmtpCatcher};
use sqlx::PgPool;
use uuid::Uuid;

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// `spawn_app` with extra settings for every service, e.g. `ADMIN_TOKEN`.
pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    spawn_app_on(TestInfra::new().await, settings).await
}

/// `spawn_app_with`, and every message published to a saga topic published twice
/// (see [`Duplicator`]).
pub async fn spawn_app_duplicating(settings: &[(&str, &str)]) -> TestApp {
    let infra = TestInfra::new().await;
    let duplicator = Duplicator::start(infra.pubsub()).await;
    let mut app = spawn_app_on(infra, settings).await;
    app.duplicator = Some(duplicator);
    app
}

/// The platform in `AUTH_MODE=oidc` with `issuer`'s tokens; the helpers sign in.
pub async fn spawn_app_signed_in(issuer: &TestIssuer, settings: &[(&str, &str)]) -> TestApp {
    let sign_in = issuer.settings();
    let all: Vec<(&str, &str)> = sign_in
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(settings.iter().copied())
        .collect();
    let mut app = spawn_app_with(&all).await;
    let staff_token = TestIssuer::staff_token();
    app.staff = client_with("authorization", &format!("Bearer {staff_token}"));
    app.staff_token = Some(staff_token);
    app.tokens = Some(std::sync::Arc::new(TestIssuer::customer_token));
    app
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
    // The slow test card answers past the payment service's timeout (2 s by default;
    // a test that shortens it passes PROVIDER_TIMEOUT_MS, and the card stays slower).
    let slow_ms = settings
        .iter()
        .find(|(k, _)| *k == "PROVIDER_TIMEOUT_MS")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .map_or(3000, |timeout| timeout * 3 / 2);
    let gateway = GatewaySandbox::start(
        ([127, 0, 0, 1], 0).into(),
        cartflow_gateway_sandbox::SandboxSettings {
            slow_ms,
            ..Default::default()
        },
    )
    .await
    .expect("starting the payment sandbox");
    gateway.configure(env);
    for (key, value) in settings {
        env.set(*key, *value);
    }
    let platform = Platform::start(&infra.settings)
        .await
        .expect("starting the platform");
    TestApp {
        platform: Some(platform),
        http: reqwest::Client::new(),
        staff: client_with("x-role", "staff"),
        staff_token: None,
        tokens: None,
        smtp: SmtpState::Up(smtp),
        gateway,
        duplicator: None,
        infra,
    }
}

/// A client that sends `name: value` with every request.
fn client_with(name: &'static str, value: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(name, reqwest::header::HeaderValue::from_str(value).unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

impl TestApp {
    pub fn platform(&self) -> &Platform {
        self.platform.as_ref().expect("platform stopped")
    }

    /// For stopping and restarting single services.
    pub fn platform_mut(&mut self) -> &mut Platform {
        self.platform.as_mut().expect("platform stopped")
    }

    /// Publishes raw messages to `topic` (short name), as a broken producer would.
    pub async fn publish_raw(
        &self,
        topic: &str,
        messages: Vec<google_cloud_pubsub::model::Message>,
    ) {
        let pubsub = self.infra.pubsub();
        let publisher = pubsub
            .publisher()
            .await
            .unwrap()
            .publisher(pubsub.topic_path(topic))
            .build();
        for message in messages {
            publisher.publish(message).await.expect("publishing");
        }
    }

    /// The cart service, as a client calls it.
    pub fn cart_client(&self) -> crate::CartClient {
        let client = crate::CartClient::new(self.http.clone(), self.url(Service::Cart));
        match &self.tokens {
            Some(tokens) => client.with_tokens(tokens.clone()),
            None => client,
        }
    }

    /// The order service, as staff.
    pub fn order_client(&self) -> crate::OrderClient {
        let client = crate::OrderClient::new(self.http.clone(), self.url(Service::Order));
        match &self.staff_token {
            Some(token) => client.with_staff_token(token.clone()),
            None => client,
        }
    }

    /// The notification service, as staff.
    pub fn notification_client(&self) -> crate::NotificationClient {
        let client =
            crate::NotificationClient::new(self.http.clone(), self.url(Service::Notification));
        match &self.staff_token {
            Some(token) => client.with_staff_token(token.clone()),
            None => client,
        }
    }

    /// `request` as `customer`: their ID token when signed in, else the header.
    pub fn as_customer(
        &self,
        request: reqwest::RequestBuilder,
        customer: Uuid,
    ) -> reqwest::RequestBuilder {
        crate::client::sign_in_as(request, customer, self.tokens.as_ref())
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

    /// Runs the operator CLI (`program`: the `cartflow` binary the calling test
    /// crate was built with) on this test's databases; returns its stdout and stderr
    /// after checking that it succeeded.
    pub async fn operator_cli(&self, program: &std::path::Path, args: &[&str]) -> (String, String) {
        let output = tokio::process::Command::new(program)
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

    /// Stops every service gracefully and checks that they all stopped cleanly, after
    /// checking every event the test made the services publish against the AsyncAPI
    /// document's schemas for its channel (payload and attributes).
    pub async fn stop(mut self) {
        self.assert_events_match_the_asyncapi_document().await;
        if let Some(platform) = self.platform.take() {
            platform.stop().await.expect("graceful shutdown");
        }
    }

    async fn assert_events_match_the_asyncapi_document(&self) {
        let mut violations = Vec::new();
        for service in cartflow_platform::SERVICES {
            let rows: Vec<(String, serde_json::Value, serde_json::Value)> =
                sqlx::query_as("SELECT topic, attributes, payload FROM outbox")
                    .fetch_all(self.pool(service))
                    .await
                    .unwrap_or_default();
            // Rows a test wrote by hand to fill the table (scratch::fill) are no events.
            let events = rows
                .into_iter()
                .filter(|(_, a, _)| a.get("test_filler").is_none());
            for (topic, attributes, payload) in events {
                let checked = cartflow_testkit::asyncapi::validate_payload(&topic, &payload).and(
                    cartflow_testkit::asyncapi::validate_attributes(&topic, &attributes),
                );
                if let Err(why) = checked {
                    violations.push(format!("{service} published {topic}: {why}"));
                }
            }
        }
        assert!(
            violations.is_empty(),
            "events that do not match docs/asyncapi.json:\n{}",
            violations.join("\n")
        );
    }

    /// Runs a `SELECT count(*) …` in a service's database.
    pub async fn count(&self, service: Service, sql: &str) -> i64 {
        count(self.pool(service), sql).await
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

    /// Waits until `service` has skipped at least `copies` later deliveries of events it
    /// had consumed, over all events: copies arrive on their own schedule, sometimes
    /// after their originals settled everything.
    pub async fn wait_for_skipped_copies(&self, service: Service, copies: i64, what: &str) {
        eventually(what, || async {
            let skipped = self
                .count(
                    service,
                    "SELECT coalesce(sum(duplicate_deliveries), 0)::bigint FROM processed_messages",
                )
                .await;
            (skipped >= copies).then_some(())
        })
        .await
    }
}

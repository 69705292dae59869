//! A test's own infrastructure on the shared emulator and PostgreSQL server.

use cartflow_events::{Envelope, Event};
use cartflow_kit::Env;
use cartflow_kit::config::database_url_for;
use cartflow_kit::databases;
use cartflow_messaging::{PubSubConfig, provision};
use cartflow_platform::{PlatformSettings, SERVICES};
use google_cloud_pubsub::model::Message;
use serde::Serialize;
use sqlx::PgPool;
use std::sync::Once;
use uuid::Uuid;

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

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

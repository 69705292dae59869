//! A test's own infrastructure on the shared emulator and PostgreSQL server: a topic
//! prefix under which the declared topology is provisioned, and databases named with
//! the test's prefix. Dropping it deletes both, even when the test failed.

use cartflow_events::{Envelope, Event};
use cartflow_kit::config::database_url_for;
use cartflow_kit::databases;
use cartflow_messaging::{PubSubConfig, provision};
use google_cloud_pubsub::model::Message;
use serde::Serialize;
use sqlx::PgPool;
use std::sync::Once;
use uuid::Uuid;

/// Quiet by default; `TEST_LOG=debug` (or any filter) shows what the code logs.
pub fn init_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            cartflow_kit::telemetry::init_with(&filter);
        }
    });
}

/// One test's topic prefix and database names on the shared emulator and server.
pub struct TestInfra {
    pub server_url: String,
    /// Every database of this test starts with it.
    pub database_prefix: String,
    pubsub: PubSubConfig,
}

impl TestInfra {
    /// On the shared PostgreSQL server (`DATABASE_URL`) and emulator
    /// (`PUBSUB_EMULATOR_HOST`).
    pub async fn new() -> TestInfra {
        TestInfra::on(
            std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| cartflow_kit::config::DEFAULT_DATABASE_URL.into()),
            std::env::var("PUBSUB_EMULATOR_HOST").unwrap_or_else(|_| "127.0.0.1:8085".into()),
        )
        .await
    }

    /// On the given PostgreSQL server and emulator (a test's own).
    pub async fn on(server_url: String, emulator_host: String) -> TestInfra {
        init_logs();
        let id = &Uuid::new_v4().simple().to_string()[..10];
        let pubsub =
            PubSubConfig::emulator(emulator_host, "cartflow-local").with_prefix(format!("t-{id}-"));
        provision::provision(&pubsub)
            .await
            .expect("provisioning the test topology");
        TestInfra {
            server_url,
            database_prefix: format!("t_{id}_"),
            pubsub,
        }
    }

    pub fn pubsub(&self) -> &PubSubConfig {
        &self.pubsub
    }

    /// A database of this test, created and migrated for `migrator`.
    pub async fn database(&self, name: &str, migrator: &sqlx::migrate::Migrator) -> PgPool {
        let name = format!("{}{name}", self.database_prefix);
        databases::ensure(&self.server_url, &name)
            .await
            .expect("creating database");
        let url = database_url_for(&self.server_url, &name).unwrap();
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
        // A thread of its own: we may be inside the test's runtime, which cannot block
        // on itself.
        let (server_url, prefix, pubsub) = (
            self.server_url.clone(),
            self.database_prefix.clone(),
            self.pubsub.clone(),
        );
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Err(e) = provision::teardown(&pubsub).await {
                    eprintln!("cleanup: deleting topology: {e:#}");
                }
                match databases::with_prefix(&server_url, &prefix).await {
                    Ok(names) => {
                        for name in names {
                            if let Err(e) = databases::drop(&server_url, &name).await {
                                eprintln!("cleanup: {e:#}");
                            }
                        }
                    }
                    Err(e) => eprintln!("cleanup: listing databases: {e:#}"),
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

//! A test's own infrastructure (the testkit's [`cartflow_testkit::TestInfra`]), and
//! the settings a whole platform runs with on it.

use cartflow_kit::Env;
use cartflow_platform::PlatformSettings;
use std::ops::Deref;

pub use cartflow_testkit::free_port;

/// Infrastructure of one test, with the platform's settings on it. Dropping it
/// deletes the topics, subscriptions and databases.
pub struct TestInfra {
    pub settings: PlatformSettings,
    base: cartflow_testkit::TestInfra,
}

impl TestInfra {
    /// On the shared PostgreSQL server and emulator.
    pub async fn new() -> TestInfra {
        TestInfra::from(cartflow_testkit::TestInfra::new().await)
    }

    /// On the given PostgreSQL server and emulator (a test's own, see `throwaway`).
    pub async fn on(server_url: String, emulator_host: String) -> TestInfra {
        TestInfra::from(cartflow_testkit::TestInfra::on(server_url, emulator_host).await)
    }
}

impl From<cartflow_testkit::TestInfra> for TestInfra {
    fn from(base: cartflow_testkit::TestInfra) -> Self {
        let settings = PlatformSettings {
            server_url: base.server_url.clone(),
            database_prefix: base.database_prefix.clone(),
            pubsub: base.pubsub().clone(),
            port_override: Some(0),
            env: Env::from_pairs([("DB_MAX_CONNECTIONS", "5"), ("OUTBOX_SWEEP_MS", "500")]),
            own_logins: false,
        };
        TestInfra { settings, base }
    }
}

impl Deref for TestInfra {
    type Target = cartflow_testkit::TestInfra;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

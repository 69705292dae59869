//! Argument groups several commands share.

use cartflow_messaging::PubSubConfig;
use clap::Args;

/// The PostgreSQL server holding the services' databases.
#[derive(Args, Clone)]
pub struct DatabaseUrl {
    /// PostgreSQL server; each service has its own database on it.
    #[arg(long, env = "DATABASE_URL", default_value = cartflow_kit::config::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

/// Where the services' databases are.
#[derive(Args)]
pub struct DatabaseArgs {
    #[command(flatten)]
    pub server: DatabaseUrl,
    /// Prefix of the databases' names (test runs use one).
    #[arg(long, default_value = "")]
    pub database_prefix: String,
}

impl DatabaseArgs {
    pub fn databases(&self) -> crate::events::Databases {
        crate::events::Databases {
            server_url: self.server.database_url.clone(),
            prefix: self.database_prefix.clone(),
        }
    }
}

/// Where the platform's infrastructure is.
#[derive(Args)]
pub struct Target {
    #[command(flatten)]
    pub database: DatabaseUrl,
    /// Pub/Sub emulator host:port. Leave unset to use Google Cloud (Application Default Credentials).
    #[arg(long, env = "PUBSUB_EMULATOR_HOST")]
    pub emulator: Option<String>,
    /// Google Cloud project id (or the emulator's project).
    #[arg(long, env = "PUBSUB_PROJECT_ID", default_value = cartflow_messaging::pubsub::DEFAULT_PROJECT)]
    pub project: String,
    /// Prefix for every topic and subscription name.
    #[arg(long, env = "CARTFLOW_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
}

impl Target {
    pub fn pubsub(&self) -> PubSubConfig {
        PubSubConfig {
            project_id: self.project.clone(),
            emulator_host: self.emulator.clone(),
            topic_prefix: self.topic_prefix.clone(),
        }
    }

    pub fn database_url(&self) -> &str {
        &self.database.database_url
    }
}

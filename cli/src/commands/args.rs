//! Argument groups several commands share.

use cartflow_events::Service;
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

/// Where the services answer: each on its own port on 127.0.0.1 (order 3000 ...
/// payment 3007) unless named here.
#[derive(Args, Clone, Debug, Default)]
pub struct ServiceUrls {
    /// A service's base URL, as `<service>=<url>` (repeatable, or comma-separated); the
    /// others are on their own ports on 127.0.0.1 (order 3000, product 3001, inventory
    /// 3002, notification 3003, email-push 3004, cart 3005, customer 3006, payment 3007).
    #[arg(long = "service-url", value_name = "SERVICE=URL", value_delimiter = ',', value_parser = parse_service_url)]
    pub service_urls: Vec<(Service, String)>,
}

impl ServiceUrls {
    /// The base URL of `service`: the one given, else its own port on 127.0.0.1.
    pub fn url(&self, service: Service) -> String {
        self.service_urls
            .iter()
            .rev()
            .find(|(s, _)| *s == service)
            .map(|(_, url)| url.clone())
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", service.default_port()))
    }
}

/// Parses `<service>=<url>` (`--service-url`).
pub fn parse_service_url(raw: &str) -> Result<(Service, String), String> {
    let (name, url) = raw.split_once('=').ok_or_else(|| {
        format!("'{raw}' is not <service>=<url>, e.g. cart=http://127.0.0.1:3005")
    })?;
    let service: Service = name.trim().parse()?;
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "the URL of {service} must start with http:// or https://: '{url}'"
        ));
    }
    Ok((service, url.to_string()))
}

//! Configuration from environment variables, with local defaults.
//!
//! Values are parsed once at start-up; a bad one stops the service with a message that
//! names the variable, the value, and what was expected. Variables are read from an
//! [`Env`] snapshot rather than the process environment so that several services can
//! run in one process (local stack, tests) with different settings.

use crate::auth::AuthSettings;
use crate::auth::rate_limit::RateLimits;
use crate::push::DeliveryMode;
use crate::redact;
use cartflow_events::Service;
use cartflow_messaging::retention::RetentionSettings;
use cartflow_messaging::{ConsumerSettings, PubSubConfig, RelaySettings};
use std::net::IpAddr;

mod auth;
mod env;
mod messaging;
pub use env::{ConfigError, Env};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// Connections per service. Each busy subscription holds one for a whole batch, HTTP
/// requests and the relay take one briefly; 7 services × 5 = 35 backends locally, and
/// Terraform checks services × instances × pool against Cloud SQL's `max_connections`.
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 5;

/// Everything the kit needs to run one service. Its `Debug` hides the secrets: the
/// database URL's password and the admin token.
#[derive(Clone)]
pub struct ServiceConfig {
    pub service: Service,
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub database_url: String,
    pub db_max_connections: u32,
    pub pubsub: PubSubConfig,
    pub body_limit_bytes: usize,
    pub consumer: ConsumerSettings,
    pub relay: RelaySettings,
    pub retention: RetentionSettings,
    pub delivery: DeliveryMode,
    /// How callers of the service's routes are identified.
    pub auth: AuthSettings,
    pub rate_limits: RateLimits,
    /// Bearer token of the `/admin` routes; `None` leaves them answering 401.
    pub admin_token: Option<String>,
    /// Re-create the topology when the emulator has lost it (it keeps nothing across a
    /// restart). Only ever with the emulator: in Google Cloud, Terraform owns it.
    pub restore_topology: bool,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database_url", &redact::Url(&self.database_url))
            .field("db_max_connections", &self.db_max_connections)
            .field("pubsub", &self.pubsub)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("consumer", &self.consumer)
            .field("relay", &self.relay)
            .field("retention", &self.retention)
            .field("delivery", &self.delivery)
            .field("auth", &self.auth)
            .field("rate_limits", &self.rate_limits)
            .field("admin_token", &redact::secret(&self.admin_token))
            .field("restore_topology", &self.restore_topology)
            .finish()
    }
}

impl ServiceConfig {
    /// Reads the service's settings. Service-specific names win over shared ones:
    /// `CART_PORT` over `PORT`, `CART_DATABASE_URL` over `DATABASE_URL`.
    ///
    /// | variable | default |
    /// |---|---|
    /// | `<SVC>_PORT`, `PORT` | the service's SPEC port |
    /// | `HOST` | `127.0.0.1` |
    /// | `<SVC>_DATABASE_URL` | `DATABASE_URL` (a server URL) + `/cartflow_<svc>` |
    /// | `DB_MAX_CONNECTIONS` | 5 |
    /// | `PUBSUB_EMULATOR_HOST` | unset: Google Cloud with Application Default Credentials |
    /// | `PUBSUB_PROJECT_ID`, `GOOGLE_CLOUD_PROJECT` | `cartflow-local` |
    /// | `CARTFLOW_TOPIC_PREFIX` | empty |
    /// | `HTTP_BODY_LIMIT_BYTES` | 65536 |
    /// | `CONSUMER_MAX_CONCURRENCY` | 4 batches (transactions) per subscription |
    /// | `CONSUMER_BATCH_SIZE` | 50 messages per transaction (1-64) |
    /// | `CONSUMER_MAX_OUTSTANDING` | 200 |
    /// | `CONSUMER_LEASE_EXTENSION_SECS` | 10: how soon a crashed consumer's messages return |
    /// | `PUSH_GATHER_WINDOW_MS` | 5: push mode: how long a free worker waits for company (0-1000) |
    /// | `OUTBOX_BATCH_SIZE` | 100 |
    /// | `OUTBOX_SWEEP_MS` | 2000 |
    /// | `OUTBOX_MARK_MS` | 200: published events are marked in bulk this often |
    /// | `OUTBOX_PUBLISH_BEFORE_RESPONSE` | `true` in push mode, else `false` |
    /// | `OUTBOX_PUBLISH_TIMEOUT_MS` | 5000: the longest a request waits for that publish |
    /// | `OUTBOX_BACKGROUND_RELAY` | `true`; `false` (tests only) stands in for a throttled CPU |
    /// | `INBOX_RETENTION_DAYS` | 15: the dedup window; must exceed subscription retention + outbox's |
    /// | `OUTBOX_RETENTION_DAYS` | 7: published outbox rows (the replay horizon) |
    /// | `FAILURES_RETENTION_DAYS` | 30: resolved consume failures |
    /// | `RETENTION_INTERVAL_SECS`, `RETENTION_BATCH_SIZE`, `RETENTION_PAUSE_MS` | 60, 1000, 50 |
    /// | `RETENTION_SLEEP_COEF` | 1: after each batch, rest at least this many times as long as it took |
    /// | `PUBSUB_DELIVERY` | `pull`; `push` serves `POST /pubsub/push` instead |
    /// | `PUSH_AUTH` | `oidc`; `none` only with the emulator |
    /// | `PUSH_AUDIENCE` | required for push with `oidc`: the token's `aud` |
    /// | `PUSH_SERVICE_ACCOUNT` | required for push with `oidc`: the token's verified `email` |
    /// | `PUSH_JWKS_URL` | Google's signing keys |
    /// | `AUTH_MODE` | `oidc`; `header` (X-Customer-Id, X-Role) only with the emulator, where it is the default |
    /// | `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_JWKS_URL` | required with `oidc` |
    /// | `AUTH_CUSTOMER_CLAIM`, `AUTH_STAFF_CLAIM`, `AUTH_STAFF_VALUE` | `sub`, `role`, `staff` |
    /// | `AUTH_CLOCK_SKEW_SECS`, `AUTH_JWKS_REFRESH_SECS`, `AUTH_JWKS_MIN_REFRESH_SECS` | 60, 3600, 30 |
    /// | `RATE_LIMIT_IP_PER_SEC`, `RATE_LIMIT_CALLER_PER_SEC` | 50, 10 (0 with the emulator); 0 is off |
    /// | `RATE_LIMIT_IP_BURST`, `RATE_LIMIT_CALLER_BURST` | twice the rate |
    /// | `RATE_LIMIT_TRUSTED_PROXY_HOPS` | 0: the TCP peer; 1 on Cloud Run |
    /// | `ADMIN_TOKEN` | unset: the `/admin` routes answer 401; else ≥ 16 characters |
    /// | `PUBSUB_RESTORE_TOPOLOGY` | `true` with the emulator: re-provision what it lost |
    pub fn from_env(service: Service, env: &Env) -> Result<Self, ConfigError> {
        let prefix = service.env_prefix();
        let own = |name: &str| format!("{prefix}_{name}");
        let mut errors = Vec::new();

        let port = env.parse_or(
            &[&own("PORT"), "PORT"],
            service.default_port(),
            "a port number (0-65535)",
            &mut errors,
        );
        let host = env.parse_or(
            &["HOST"],
            IpAddr::from([127, 0, 0, 1]),
            "an IP address",
            &mut errors,
        );
        let database_url = match env.get(&own("DATABASE_URL")) {
            Some(url) => url.to_string(),
            None => {
                let server = env.get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL);
                match database_url_for(server, &service.database_name()) {
                    Ok(url) => url,
                    Err(e) => {
                        errors.push(format!("DATABASE_URL='{server}': {e}"));
                        String::new()
                    }
                }
            }
        };
        if !database_url.is_empty() && !database_url.starts_with("postgres") {
            errors.push(format!(
                "{}: expected a postgres:// URL",
                if env.get(&own("DATABASE_URL")).is_some() {
                    own("DATABASE_URL")
                } else {
                    "DATABASE_URL".into()
                }
            ));
        }
        let db_max_connections = env.parse_or(
            &[&own("DB_MAX_CONNECTIONS"), "DB_MAX_CONNECTIONS"],
            DEFAULT_DB_MAX_CONNECTIONS,
            "a whole number ≥ 1",
            &mut errors,
        );
        if db_max_connections == 0 {
            errors.push("DB_MAX_CONNECTIONS='0': expected a whole number ≥ 1".into());
        }
        let emulator_host = env.get("PUBSUB_EMULATOR_HOST").map(str::to_string);
        if let Some(host) = &emulator_host {
            let bare = host.trim_start_matches("http://");
            if bare
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                errors.push(format!("PUBSUB_EMULATOR_HOST='{host}': expected host:port"));
            }
        }
        let project_id = env
            .first(&["PUBSUB_PROJECT_ID", "GOOGLE_CLOUD_PROJECT"])
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| cartflow_messaging::pubsub::DEFAULT_PROJECT.to_string());
        let topic_prefix = env.get("CARTFLOW_TOPIC_PREFIX").unwrap_or("").to_string();
        let body_limit_bytes = env.parse_or(
            &["HTTP_BODY_LIMIT_BYTES"],
            64 * 1024,
            "a size in bytes",
            &mut errors,
        );

        let consumer = messaging::consumer_settings(env, &mut errors);
        let retention = messaging::retention_settings(env, &mut errors);
        let delivery = messaging::delivery_mode(env, emulator_host.is_some(), &mut errors);
        let relay = messaging::relay_settings(env, &delivery, &mut errors);

        let auth = auth::auth_settings(env, emulator_host.is_some(), &mut errors);
        let rate_limits = auth::rate_limits(env, emulator_host.is_some(), &mut errors);

        let admin_token = env.get("ADMIN_TOKEN").map(|t| t.trim().to_string());
        if admin_token.as_ref().is_some_and(|t| t.chars().count() < 16) {
            // The value is a secret: named, never echoed.
            errors.push("ADMIN_TOKEN: expected at least 16 characters (a random secret)".into());
        }
        let restore_topology = env.parse_or(
            &["PUBSUB_RESTORE_TOPOLOGY"],
            emulator_host.is_some(),
            "true or false",
            &mut errors,
        );
        if restore_topology && emulator_host.is_none() {
            errors.push(
                "PUBSUB_RESTORE_TOPOLOGY='true': only allowed with PUBSUB_EMULATOR_HOST (in \
                 Google Cloud, Terraform owns the topology)"
                    .into(),
            );
        }

        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(ServiceConfig {
            service,
            host,
            port,
            database_url,
            db_max_connections,
            pubsub: PubSubConfig {
                project_id,
                emulator_host,
                topic_prefix,
            },
            body_limit_bytes,
            consumer,
            relay,
            retention,
            delivery,
            auth,
            rate_limits,
            admin_token,
            restore_topology,
        })
    }
}

/// Replaces (or adds) the database name in a PostgreSQL server URL, keeping any query.
pub fn database_url_for(server_url: &str, database: &str) -> Result<String, String> {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let rest = base
        .strip_prefix("postgres://")
        .or_else(|| base.strip_prefix("postgresql://"))
        .ok_or("expected a postgres:// URL")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err("the URL has no host".into());
    }
    let mut url = format!("postgres://{authority}/{database}");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Ok(url)
}

#[cfg(test)]
mod tests;

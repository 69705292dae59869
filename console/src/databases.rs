//! Where the services' databases are, for the operator's reads of their event logs
//! (`cartflow events`, `cartflow timeline`, the console's checkout explorer).

use anyhow::Context;
use cartflow_events::Service;
use cartflow_kit::config::database_url_for;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Where the services' databases are. Its `Debug` hides the server URL's password.
#[derive(Clone)]
pub struct Databases {
    pub server_url: String,
    /// Prefix of the databases' names (test runs use one).
    pub prefix: String,
}

impl std::fmt::Debug for Databases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Databases")
            .field("server_url", &cartflow_kit::redact::Url(&self.server_url))
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Databases {
    pub fn name(&self, service: Service) -> String {
        service.prefixed_database_name(&self.prefix)
    }

    /// The service's database, or `None` if it does not exist (never started).
    pub async fn open(&self, service: Service) -> anyhow::Result<Option<PgPool>> {
        let name = self.name(service);
        let url = database_url_for(&self.server_url, &name).map_err(anyhow::Error::msg)?;
        match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
        {
            Ok(pool) => Ok(Some(pool)),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                tracing::warn!(database = %name, "does not exist; skipped");
                Ok(None)
            }
            Err(e) => Err(e).with_context(|| format!("opening {name}")),
        }
    }
}

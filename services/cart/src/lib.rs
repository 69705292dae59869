//! Cart service: the customer's cart, with a price snapshot per line taken from the
//! product service. Converting locks the cart and starts the checkout saga
//! (`order-requested`); `stock.rejected` unlocks it, `order.created` converts it.

pub mod catalog;
pub mod domain;
pub mod handlers;
pub mod routes;
pub mod store;

use axum::Router;
use cartflow_events::Service;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::EventHandler;
use std::sync::Arc;

pub struct CartApp {
    catalog: catalog::Catalog,
}

impl CartApp {
    /// `PRODUCT_SERVICE_URL` (default `http://127.0.0.1:3001`) and
    /// `PRODUCT_TIMEOUT_MS` (default 2000).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let url = env
            .get("PRODUCT_SERVICE_URL")
            .unwrap_or("http://127.0.0.1:3001")
            .trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            errors.push(format!(
                "PRODUCT_SERVICE_URL='{url}': expected an http:// or https:// URL"
            ));
        }
        let timeout_ms = env.parse_or(
            &["PRODUCT_TIMEOUT_MS"],
            2000u64,
            "milliseconds",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        let catalog = catalog::Catalog::new(url, std::time::Duration::from_millis(timeout_ms))
            .map_err(|e| ConfigError(vec![format!("building the product client: {e}")]))?;
        Ok(CartApp { catalog })
    }
}

impl ServiceApp for CartApp {
    const SERVICE: Service = Service::Cart;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> Router {
        routes::router(routes::CartState {
            outbox: ctx.outbox,
            catalog: self.catalog.clone(),
        })
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn EventHandler>> {
        Some(Arc::new(handlers::CartHandler))
    }
}

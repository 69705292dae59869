//! Cart service: the customer's cart, with a price snapshot per line taken from its
//! own copy of the catalog (kept from `product.changed`). Converting locks the cart
//! and starts the checkout saga (`order-requested`); `stock.rejected` or
//! `checkout.expired` unlocks it, `order.created` converts it.

pub mod addresses;
pub mod catalog;
pub mod domain;
pub mod handlers;
pub mod metrics;
pub mod routes;
pub mod store;
pub mod watchdog;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::AnyHandler;
use std::sync::Arc;

pub struct CartApp {
    catalog: catalog::Catalog,
    deadline: watchdog::DeadlineSettings,
}

impl CartApp {
    /// `PRODUCT_SERVICE_URL` (default `http://127.0.0.1:3001`) and the upstream
    /// settings `PRODUCT_TIMEOUT_MS`, `PRODUCT_RETRIES`, `PRODUCT_BACKOFF_MS`,
    /// `PRODUCT_BREAKER_FAILURES`, `PRODUCT_BREAKER_OPEN_MS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env
            .get("PRODUCT_SERVICE_URL")
            .unwrap_or("http://127.0.0.1:3001");
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError(vec![format!(
                "PRODUCT_SERVICE_URL='{url}': expected an http:// or https:// URL"
            )]));
        }
        let settings = cartflow_kit::upstream::UpstreamSettings::from_env(env, "PRODUCT")?;
        let catalog = catalog::Catalog::new(url, settings)
            .map_err(|e| ConfigError(vec![format!("building the product client: {e}")]))?;
        let deadline = watchdog::DeadlineSettings::from_env(env)?;
        Ok(CartApp { catalog, deadline })
    }
}

impl ServiceApp for CartApp {
    const SERVICE: Service = Service::Cart;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(routes::CartState {
            pool: ctx.pool,
            outbox: ctx.outbox,
            catalog: self.catalog.clone(),
            checkout_expiry: self.deadline.expire,
        })
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        Some(Arc::new(handlers::CartHandler))
    }

    fn workers(&self, ctx: AppContext) -> Vec<cartflow_kit::runtime::Worker> {
        let watchdog = watchdog::Watchdog {
            outbox: ctx.outbox,
            settings: self.deadline.clone(),
        };
        let backfill = catalog::backfill(self.catalog.clone(), ctx.pool, ctx.shutdown.clone());
        vec![Box::pin(watchdog.run(ctx.shutdown)), Box::pin(backfill)]
    }
}

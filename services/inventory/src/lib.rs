//! Inventory service: stock per SKU. Reserves every line of a checkout atomically or
//! none (`order-requested` → `stock-available` / `stock.rejected`) and returns stock
//! when an order is cancelled (`order.cancelled`).

pub mod domain;
pub mod handlers;
pub mod routes;
pub mod store;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::AnyHandler;
use std::sync::Arc;

pub struct InventoryApp;

impl InventoryApp {
    pub fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(InventoryApp)
    }
}

impl ServiceApp for InventoryApp {
    const SERVICE: Service = Service::Inventory;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(ctx)
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        Some(Arc::new(handlers::InventoryHandler))
    }
}

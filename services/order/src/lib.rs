//! Order service: creates the order once stock is reserved and the total held
//! (`stock-available` and `payment.authorized` → `order.created`), cancels it (`order.cancelled`, which returns the stock), and moves
//! it through shipped and delivered.

pub mod domain;
pub mod handlers;
pub mod routes;
pub mod store;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::AnyHandler;
use std::sync::Arc;

pub struct OrderApp;

impl OrderApp {
    pub fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(OrderApp)
    }
}

impl ServiceApp for OrderApp {
    const SERVICE: Service = Service::Order;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(ctx)
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        Some(Arc::new(handlers::OrderHandler))
    }
}

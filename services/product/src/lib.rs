//! Product service: the catalog (SKU, name, description, price in cents). Every
//! change is published as `product.changed`, from which the cart keeps its own copy.

pub mod domain;
pub mod routes;
pub mod store;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};

pub struct ProductApp;

impl ProductApp {
    pub fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(ProductApp)
    }
}

impl ServiceApp for ProductApp {
    const SERVICE: Service = Service::Product;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(ctx)
    }
}

//! Customer service: who the customers are and how to reach them. Every change is
//! announced (`customer.created` / `.updated` / `.deleted`) so that other services keep
//! the copy they need instead of calling here at send time.

pub mod domain;
pub mod routes;
pub mod store;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};

pub struct CustomerApp;

impl CustomerApp {
    pub fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(CustomerApp)
    }
}

impl ServiceApp for CustomerApp {
    const SERVICE: Service = Service::Customer;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(ctx)
    }
}

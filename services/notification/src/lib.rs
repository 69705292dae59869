//! Notification service: turns every customer-facing saga outcome (and low stock) into
//! one notification per channel, rendered with the facts, and asks email-push to deliver
//! it (`delivery.requested`); records the outcome (`delivery.result`). Contact details
//! come from customer events, kept in its own table.

pub mod domain;
pub mod handlers;
pub mod notify;
pub mod routes;
pub mod store;
pub mod templates;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::EventHandler;
use std::sync::Arc;

pub struct NotificationApp {
    settings: Settings,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where low-stock alerts go (`STOCK_MANAGER_EMAIL`).
    pub stock_manager_email: String,
}

impl NotificationApp {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let email = env
            .get("STOCK_MANAGER_EMAIL")
            .unwrap_or("stock-manager@cartflow.local");
        if !email.contains('@') {
            return Err(ConfigError(vec![format!(
                "STOCK_MANAGER_EMAIL='{email}': expected an email address"
            )]));
        }
        Ok(NotificationApp {
            settings: Settings {
                stock_manager_email: email.to_string(),
            },
        })
    }
}

impl ServiceApp for NotificationApp {
    const SERVICE: Service = Service::Notification;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(ctx)
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn EventHandler>> {
        Some(Arc::new(handlers::NotificationHandler {
            settings: self.settings.clone(),
        }))
    }
}

//! Notification service: turns every customer-facing saga outcome (and low stock) into
//! one notification per channel, rendered with the facts, and asks email-push to deliver
//! it (`delivery.requested`); records the outcome (`delivery.result`). Contact details
//! come from customer events, kept in its own table. It also sends the outgoing
//! webhooks staff subscribe partners to ([`webhooks`]).

pub mod domain;
pub mod handlers;
pub mod notify;
pub mod routes;
pub mod store;
pub mod templates;
pub mod webhooks;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::runtime::Worker;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::AnyHandler;
use std::sync::Arc;

pub struct NotificationApp {
    settings: Settings,
    webhooks: webhooks::WebhookSettings,
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
        let mut errors = Vec::new();
        if !email.contains('@') {
            errors.push(format!(
                "STOCK_MANAGER_EMAIL='{email}': expected an email address"
            ));
        }
        let webhooks = webhooks::WebhookSettings::from_env(env, &mut errors);
        ConfigError::check(
            errors,
            NotificationApp {
                settings: Settings {
                    stock_manager_email: email.to_string(),
                },
                webhooks,
            },
        )
    }
}

impl ServiceApp for NotificationApp {
    const SERVICE: Service = Service::Notification;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        let webhooks = webhooks::routes::router(webhooks::routes::WebhookState {
            pool: ctx.pool.clone(),
            settings: self.webhooks.clone(),
            http: webhooks::worker::client(&self.webhooks),
        });
        routes::router(ctx).merge(webhooks)
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        Some(Arc::new(handlers::NotificationHandler {
            settings: self.settings.clone(),
        }))
    }

    fn workers(&self, ctx: AppContext) -> Vec<Worker> {
        if !self.webhooks.background {
            return Vec::new();
        }
        vec![Box::pin(webhooks::worker::run(
            ctx.outbox,
            self.webhooks.clone(),
            ctx.shutdown,
        ))]
    }
}

//! Email-push service: delivers notifications. Email goes over real SMTP with retries
//! and backoff; push goes into a per-customer inbox with a live server-sent-event
//! stream. Every request ends in a `delivery.result`.

pub mod handlers;
pub mod live;
pub mod routes;
pub mod sender;
pub mod smtp;
pub mod store;

use axum::Router;
use cartflow_events::Service;
use cartflow_kit::runtime::Worker;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::EventHandler;
use std::sync::Arc;

pub struct EmailPushApp {
    smtp: smtp::SmtpSettings,
    live: live::Live,
    emails: sender::EmailHandoff,
    /// Taken by the sender when it starts.
    handed_off: std::sync::Mutex<Option<sender::HandedOff>>,
}

impl EmailPushApp {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let smtp = smtp::SmtpSettings::from_env(env)?;
        let (emails, handed_off) = sender::EmailHandoff::new(sender::lease(&smtp));
        Ok(EmailPushApp {
            smtp,
            live: live::Live::new(),
            emails,
            handed_off: std::sync::Mutex::new(Some(handed_off)),
        })
    }
}

impl ServiceApp for EmailPushApp {
    const SERVICE: Service = Service::EmailPush;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> Router {
        routes::router(routes::State {
            pool: ctx.pool.clone(),
            live: self.live.clone(),
            shutdown: ctx.shutdown,
        })
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn EventHandler>> {
        Some(Arc::new(handlers::DeliveryHandler {
            emails: self.emails.clone(),
        }))
    }

    fn workers(&self, ctx: AppContext) -> Vec<Worker> {
        let handed_off = self
            .handed_off
            .lock()
            .expect("hand-off poisoned")
            .take()
            .expect("the sender starts once");
        let sender = sender::Sender::new(ctx.outbox.clone(), self.smtp.clone(), handed_off);
        vec![
            Box::pin(
                self.live
                    .clone()
                    .listen(ctx.pool.clone(), ctx.shutdown.clone()),
            ),
            Box::pin(sender.run(ctx.shutdown)),
        ]
    }
}

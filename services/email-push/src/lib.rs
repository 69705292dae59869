//! Email-push service: delivers notifications. Email goes over real SMTP with retries
//! and backoff; push goes into a per-customer inbox with a live server-sent-event
//! stream. Every request ends in a `delivery.result`.

pub mod domain;
pub mod handlers;
pub mod live;
pub mod routes;
pub mod sender;
pub mod smtp;
pub mod store;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::runtime::Worker;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::AnyHandler;
use std::sync::Arc;

pub struct EmailPushApp {
    smtp: smtp::SmtpSettings,
    live: live::Live,
    emails: sender::EmailHandoff,
    /// Taken by the sender when it starts.
    handed_off: std::sync::Mutex<Option<sender::HandedOff>>,
    /// Built once, for the handler and the sender; `None` if the SMTP transport cannot
    /// be built (emails then stay queued, and the error is logged).
    mailer: std::sync::OnceLock<Option<Arc<sender::Mailer>>>,
    /// `OUTBOX_BACKGROUND_RELAY=false` (tests only): no background sending either, as
    /// on a CPU throttled between requests.
    background: bool,
    /// The live push streams: how many per caller, how often they re-check sign-in.
    streams: routes::Streams,
}

impl EmailPushApp {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let smtp = smtp::SmtpSettings::from_env(env)?;
        let (emails, handed_off) = sender::EmailHandoff::new(sender::lease(&smtp));
        let mut errors = Vec::new();
        let background = env.parse_or(
            &["OUTBOX_BACKGROUND_RELAY"],
            true,
            "true or false",
            &mut errors,
        );
        let per_caller = env.parse_or(
            &["PUSH_STREAMS_PER_CALLER"],
            5,
            "a whole number ≥ 1",
            &mut errors,
        );
        if per_caller == 0 {
            errors.push("PUSH_STREAMS_PER_CALLER='0': expected a whole number ≥ 1".into());
        }
        let recheck = env.parse_or(
            &["PUSH_STREAM_RECHECK_SECS"],
            30,
            "seconds ≥ 1",
            &mut errors,
        );
        if recheck == 0 {
            errors.push("PUSH_STREAM_RECHECK_SECS='0': expected seconds ≥ 1".into());
        }
        let app = EmailPushApp {
            smtp,
            live: live::Live::new(),
            emails,
            handed_off: std::sync::Mutex::new(Some(handed_off)),
            mailer: std::sync::OnceLock::new(),
            background,
            streams: routes::Streams::new(per_caller, std::time::Duration::from_secs(recheck)),
        };
        ConfigError::check(errors, app)
    }

    fn mailer(&self, ctx: &AppContext) -> Option<Arc<sender::Mailer>> {
        self.mailer
            .get_or_init(|| {
                sender::Mailer::new(ctx.outbox.clone(), self.smtp.clone())
                    .map(Arc::new)
                    .inspect_err(|err| {
                        tracing::error!(error = %err, "cannot build the SMTP transport; emails stay queued")
                    })
                    .ok()
            })
            .clone()
    }
}

impl ServiceApp for EmailPushApp {
    const SERVICE: Service = Service::EmailPush;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(routes::State {
            pool: ctx.pool.clone(),
            live: self.live.clone(),
            shutdown: ctx.shutdown,
            streams: self.streams.clone(),
        })
    }

    fn handler(&self, ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        // Publish-before-response: the request that queues an email also sends it.
        let send_now = ctx
            .outbox
            .publishes_before_response()
            .then(|| self.mailer(&ctx))
            .flatten();
        Some(Arc::new(handlers::DeliveryHandler {
            emails: self.emails.clone(),
            send_now,
        }))
    }

    fn workers(&self, ctx: AppContext) -> Vec<Worker> {
        let handed_off = self
            .handed_off
            .lock()
            .expect("hand-off poisoned")
            .take()
            .expect("the sender starts once");
        let mut workers: Vec<Worker> = vec![Box::pin(
            self.live
                .clone()
                .listen(ctx.pool.clone(), ctx.shutdown.clone()),
        )];
        if let (true, Some(mailer)) = (self.background, self.mailer(&ctx)) {
            let sender = sender::Sender::new(mailer, handed_off);
            workers.push(Box::pin(sender.run(ctx.shutdown)));
        }
        workers
    }
}

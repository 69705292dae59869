//! Payment service: the checkout's money. It authorizes the total while inventory
//! reserves (`order-requested` → `payment.authorized` or `payment.declined`), captures
//! it once the order exists (`order.created` → `payment.captured`), voids a hold whose
//! checkout was given up or whose stock was short (`checkout.expired`,
//! `stock.rejected`), and refunds a cancelled order
//! (`order.cancelled` → `payment.refunded`). It alone holds the provider's key.

pub mod domain;
pub mod handlers;
pub mod provider;
pub mod reconcile;
pub mod routes;
pub mod store;
pub mod worker;

use cartflow_events::Service;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::{AppContext, ConfigError, Env, ServiceApp};
use cartflow_messaging::AnyHandler;
use std::sync::Arc;
use std::time::Duration;

pub struct PaymentApp {
    provider: provider::Provider,
    currency: String,
    worker: worker::WorkerSettings,
    /// Shared by the handler (which records work) and the worker (which does it).
    work: worker::Work,
}

impl PaymentApp {
    /// The provider's settings ([`provider::ProviderSettings::from_env`]),
    /// `PAYMENT_CURRENCY` (`usd`), `PAYMENT_WORKER_CONCURRENCY` (64 provider calls out
    /// at once) and `PAYMENT_WORKER_POLL_MS` (500: how often due retries are looked for).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let currency = env
            .get("PAYMENT_CURRENCY")
            .unwrap_or("usd")
            .to_ascii_lowercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            errors.push(format!(
                "PAYMENT_CURRENCY='{currency}': expected a three-letter ISO 4217 code such as usd"
            ));
        }
        let concurrency: usize = env.parse_or(
            &["PAYMENT_WORKER_CONCURRENCY"],
            64,
            "a whole number ≥ 1",
            &mut errors,
        );
        let poll_ms: u64 = env.parse_or(
            &["PAYMENT_WORKER_POLL_MS"],
            500,
            "milliseconds",
            &mut errors,
        );
        let settings = provider::ProviderSettings::from_env(env);
        let provider = match settings {
            Ok(settings) => match provider::Provider::new(settings) {
                Ok(provider) => Some(provider),
                Err(e) => {
                    errors.push(format!("building the payment provider's client: {e}"));
                    None
                }
            },
            Err(ConfigError(more)) => {
                errors.extend(more);
                None
            }
        };
        ConfigError::check(errors, ())?;
        let provider = provider.expect("no errors, so the provider was built");
        Ok(PaymentApp {
            work: worker::Work::new(provider.longest_call()),
            provider,
            currency,
            worker: worker::WorkerSettings {
                concurrency: concurrency.max(1),
                poll: Duration::from_millis(poll_ms.max(10)),
            },
        })
    }
}

impl ServiceApp for PaymentApp {
    const SERVICE: Service = Service::Payment;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    fn router(&self, ctx: AppContext) -> ApiRouter {
        routes::router(routes::PaymentState {
            pool: ctx.pool,
            provider: self.provider.clone(),
        })
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        Some(Arc::new(handlers::PaymentHandler {
            currency: self.currency.clone(),
            work: self.work.clone(),
        }))
    }

    fn workers(&self, ctx: AppContext) -> Vec<cartflow_kit::runtime::Worker> {
        let worker = worker::Worker {
            outbox: ctx.outbox,
            provider: self.provider.clone(),
            work: self.work.clone(),
            settings: self.worker.clone(),
        };
        vec![Box::pin(worker.run(ctx.shutdown))]
    }
}

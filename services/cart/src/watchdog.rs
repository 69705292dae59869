//! The checkout's deadline and expiry. A cart still `checkout_pending` long after its
//! request (a participant was down, or slow) has the request sent again: every
//! participant answers a repeated request for the same checkout idempotently (inventory
//! re-announces its decision, order creates one order per checkout), so a re-send can
//! only help the saga finish, never duplicate its effects.
//!
//! Past the checkout's expiry the cart stops asking for the order and asks order, the
//! arbiter, to give the checkout up (`checkout.expire-requested`, re-sent on the same
//! deadline until answered): order answers `checkout.expired`, or `order.created` if it
//! made the order first.

use crate::store;
use cartflow_events::CheckoutExpireRequested;
use cartflow_kit::{ConfigError, Env};
use cartflow_messaging::{Cause, Outbox};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Carts handled per pass.
const BATCH: i64 = 50;

#[derive(Debug, Clone)]
pub struct DeadlineSettings {
    /// How long a checkout may stay pending before its request is sent again.
    pub deadline: Duration,
    /// How long after its start a pending checkout is given up.
    pub expire: Duration,
    /// How often to look.
    pub interval: Duration,
}

impl DeadlineSettings {
    /// `CHECKOUT_DEADLINE_MS` (30000), `CHECKOUT_EXPIRE_MS` (300000) and
    /// `CHECKOUT_WATCH_MS` (1000).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let settings = DeadlineSettings {
            deadline: Duration::from_millis(env.parse_or(
                &["CHECKOUT_DEADLINE_MS"],
                30_000,
                "milliseconds",
                &mut errors,
            )),
            expire: Duration::from_millis(env.parse_or(
                &["CHECKOUT_EXPIRE_MS"],
                300_000,
                "milliseconds",
                &mut errors,
            )),
            interval: Duration::from_millis(env.parse_or(
                &["CHECKOUT_WATCH_MS"],
                1_000,
                "milliseconds",
                &mut errors,
            )),
        };
        ConfigError::check(errors, settings)
    }
}

pub struct Watchdog {
    pub outbox: Outbox,
    pub settings: DeadlineSettings,
}

impl Watchdog {
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(err) = self.pass().await {
                tracing::warn!(error = format!("{err:#}"), "checkout watchdog pass failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(self.settings.interval) => {}
            }
        }
    }

    /// Re-sends the request of every overdue checkout, or asks to give up the expired
    /// ones; returns how many.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let mut tx = self.outbox.begin().await?;
        let overdue = store::lock_overdue(tx.conn(), self.settings.deadline, BATCH).await?;
        for checkout in &overdue {
            let cart_id = checkout.cart_id;
            let checkout_id = checkout.checkout_id;
            let cart = store::load(tx.conn(), cart_id).await?;
            let requests = store::checkout_resent(tx.conn(), cart_id).await?;
            let cause = Cause::command(cart_id);
            if checkout.expired {
                let give_up = CheckoutExpireRequested {
                    checkout_id,
                    cart_id,
                    customer_id: cart.customer_id,
                    items: cart.line_items(),
                };
                tx.publish_caused_by(&cause, &give_up).await?;
                tracing::warn!(%cart_id, %checkout_id, requests, "checkout expired; asking order to give it up");
            } else {
                let (payment_method, shipping_address) =
                    store::checkout_payment(tx.conn(), cart_id).await?;
                let started = store::Checkout {
                    checkout_id,
                    expires_at: checkout.expires_at,
                };
                let request = started.request(
                    cart_id,
                    cart.customer_id,
                    cart.line_items(),
                    payment_method,
                    shipping_address,
                );
                tx.publish_caused_by(&cause, &request).await?;
                tracing::warn!(%cart_id, %checkout_id, requests, "checkout overdue; request sent again");
            }
        }
        let pending = store::pending_count(tx.conn()).await?;
        let resent: Vec<bool> = overdue.iter().map(|c| c.expired).collect();
        tx.commit().await?;
        crate::metrics::pending(pending);
        resent.into_iter().for_each(crate::metrics::request_resent);
        Ok(overdue.len())
    }
}

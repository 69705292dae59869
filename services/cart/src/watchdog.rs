//! The checkout deadline: a cart still `checkout_pending` long after its request (a
//! participant was down, or slow) has the request sent again. Every participant answers
//! a repeated request for the same cart idempotently (inventory re-announces an existing
//! reservation, order creates one order per cart), so a re-send can only help the saga
//! finish, never duplicate its effects.

use crate::store;
use cartflow_events::OrderRequested;
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
    /// How often to look.
    pub interval: Duration,
}

impl DeadlineSettings {
    /// `CHECKOUT_DEADLINE_MS` (30000) and `CHECKOUT_WATCH_MS` (1000).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let settings = DeadlineSettings {
            deadline: Duration::from_millis(env.parse_or(
                &["CHECKOUT_DEADLINE_MS"],
                30_000,
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

    /// Re-sends the request of every overdue checkout; returns how many.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let mut tx = self.outbox.begin().await?;
        let overdue = store::lock_overdue(tx.conn(), self.settings.deadline, BATCH).await?;
        for &cart_id in &overdue {
            let cart = store::load(tx.conn(), cart_id).await?;
            let requests = store::checkout_resent(tx.conn(), cart_id).await?;
            let request = OrderRequested {
                cart_id,
                customer_id: cart.customer_id,
                items: cart.items,
            };
            tx.publish(&Cause::command(cart_id), &request).await?;
            tracing::warn!(%cart_id, requests, "checkout overdue; request sent again");
        }
        tx.commit().await?;
        Ok(overdue.len())
    }
}

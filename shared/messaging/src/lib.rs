//! Pub/Sub plumbing, written once for every service.
//!
//! - [`pubsub`]: clients for the emulator or Google Cloud, configured from one place.
//! - [`provision`]: idempotent creation (and test teardown) of the declared topology.
//! - [`outbox`]: a database transaction that can stage events; they are committed with
//!   the business change and published afterwards by the [`relay`].
//! - [`consumer`]: streaming pull → one transaction per batch of delivered messages,
//!   recording each in `processed_messages` and running the service's handler, which
//!   stages its events → commit → acks. Duplicates are acked and skipped; failures are
//!   left to retry and dead-letter.
//! - [`dead_letters`] and [`event_log`]: what the operator inspects and replays, from
//!   the CLI and from each service's admin routes.
//! - [`retention`]: removes inbox, outbox and failure rows that outlived their window.
//! - [`trace_context`]: W3C trace context through the outbox and Pub/Sub attributes.

pub mod consumer;
pub mod dead_letters;
pub mod event_log;
pub mod outbox;
pub mod provision;
pub mod pubsub;
pub mod relay;
pub mod retention;
pub mod trace_context;

pub use consumer::{
    AnyHandler, Batch, Consumer, ConsumerSettings, EventHandler, HandlerError, Incoming, Item, Run,
};
pub use outbox::{Cause, Outbox, Tx};
pub use pubsub::PubSubConfig;
pub use relay::{OutboxRelay, RelaySettings};

/// The migrations of the inbox and outbox tables, combined with a service's own so that
/// each database has one migration history. Plumbing versions are small integers;
/// services use timestamps, so the two never collide.
pub fn migrator_with(service: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    let plumbing = sqlx::migrate!("./migrations");
    let mut migrations: Vec<_> = plumbing
        .migrations
        .iter()
        .chain(service.migrations.iter())
        .cloned()
        .collect();
    migrations.sort_by_key(|m| m.version);
    sqlx::migrate::Migrator {
        migrations: migrations.into(),
        ..service
    }
}

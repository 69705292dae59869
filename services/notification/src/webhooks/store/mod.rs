//! SQL for webhook endpoints, their deliveries and attempts.
//!
//! `endpoints.rs` holds the endpoints (create, read, pause, rotate, delete); `queue.rs`
//! the delivery pipeline (queue an event, take what is due, record a call);
//! `deliveries.rs` the operator's reads of deliveries and attempts, replay, retention
//! and queue ages.

mod deliveries;
mod endpoints;
mod queue;

pub use deliveries::{deliveries, delivery, queue_ages, remove_settled, replay};
pub use endpoints::{
    NewEndpoint, delete_endpoint, endpoint, endpoints, insert_endpoint, rotate_secret, set_paused,
};
pub use queue::{CallRecord, Paused, Queued, Settled, Taken, enqueue, record_call, take_due};

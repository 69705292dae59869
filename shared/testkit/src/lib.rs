//! What cartflow's tests stand on, below the services: one service (or the messaging
//! plumbing) against real PostgreSQL and the real emulator. The whole platform's
//! harness is the `cartflow-e2e` crate, above the services.
//! - [`asyncapi`]: an event checked against the AsyncAPI document's schemas for its
//!   topic (`asyncapi::validate_payload`);
//! - [`service`]: one service's handlers and routes against a real PostgreSQL database
//!   of the test's own (each service's `tests/` use it);
//! - [`infra`]: a test's own topic prefix and databases on the shared emulator and
//!   server, removed when the test ends;
//! - [`scratch`]: a scratch consumer and handlers that record what they run, for the
//!   plumbing's own tests (messaging, push delivery);
//! - [`wait`]: waiting on a condition with a deadline, and checking problem responses;
//! - [`webhook_receiver`]: a webhook endpoint on loopback that verifies signatures on
//!   its own and deduplicates by `webhook-id`;
//! - [`fixtures`]: the keys the test issuer signs with and the JWKS that publish them;
//! - [`client`] (the `cartflow-client` crate, re-exported): the typed REST clients (`Cart`,
//!   `Order`… rather than JSON) that the end-to-end tests, the load generator, the
//!   seeder and the console share.

pub use cartflow_client as client;
pub mod asyncapi;
pub mod fixtures;
pub mod infra;
pub mod scratch;
pub mod service;
pub mod wait;
pub mod webhook_receiver;

pub use client::{Accepted, CallError, CartClient, NotificationClient, OrderClient};
pub use infra::{TestInfra, free_port, init_logs};
pub use service::{HandlerHarness, ServiceDb, envelope_for, message};
pub use wait::{assert_problem, count, eventually, eventually_within, eventually_within_showing};

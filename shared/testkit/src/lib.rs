//! What cartflow's tests stand on: two layers, the typed clients, and test-only keys.
//! - [`service`]: one service's handlers and routes against a real PostgreSQL database
//!   of the test's own (each service's `tests/` use it);
//! - [`platform`]: the whole saga in one process on the shared emulator and server,
//!   with per-test databases and topics, an SMTP catcher and a test OIDC issuer (the
//!   end-to-end suite in `cli/tests/platform` uses it);
//! - [`fixtures`]: the keys the test issuer signs with and the JWKS that publish them;
//! - [`client`] (the `cartflow-client` crate, re-exported): the typed REST clients (`Cart`,
//!   `Order`… rather than JSON) that the end-to-end tests, the load generator, the
//!   seeder and the console share.

pub use cartflow_client as client;
pub mod fixtures;
pub mod platform;
pub mod service;

pub use client::{Accepted, CallError, CartClient, NotificationClient, OrderClient};
pub use service::{HandlerHarness, ServiceDb, envelope_for, message};

//! `spawn_app()`: the whole platform (`cartflow_platform::Platform`) on free ports,
//! with per-test databases and a per-test topic prefix, and what the end-to-end tests
//! do with it, by concern:
//! - `infra`: a test's own topic prefix and databases on the shared emulator and
//!   server, removed when the test ends;
//! - `app`: the running platform, its SMTP catcher, its databases and the CLI;
//! - `calls`: the REST calls the tests make, as a client would;
//! - `duplicator`: every message published twice, from outside the platform;
//! - `issuer`: a test OpenID Connect issuer, for the platform in `AUTH_MODE=oidc`;
//!
//! The testkit (below the services) gives the waiting helpers and the typed clients;
//! they are re-exported here so an end-to-end test needs one import.

mod app;
mod calls;
mod duplicator;
mod infra;
pub mod issuer;

pub use app::{
    spawn_app, spawn_app_duplicating, spawn_app_on, spawn_app_signed_in, spawn_app_with,
};
pub use cartflow_testkit::client;
pub use cartflow_testkit::{
    CartClient, NotificationClient, OrderClient, assert_problem, count, eventually,
    eventually_within, eventually_within_showing,
};
pub use infra::{TestInfra, free_port};

use cartflow_platform::Platform;
use std::path::PathBuf;

/// The workspace's `cartflow` binary, beside the test executable's directory
/// (`target/<profile>/`). Cargo names a binary to tests only in its own package
/// (`CARGO_BIN_EXE_*`); `cargo nextest run --workspace` (scripts/test.sh) builds it.
pub fn cartflow_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test> → target/<profile>/cartflow
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a test executable under target/<profile>/deps");
    let binary = profile_dir.join(format!("cartflow{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is not built: run the suite through scripts/test.sh, or `cargo build -p cartflow` first",
        binary.display()
    );
    binary
}
use cartflow_platform::smtp_catcher::{Restartable, SmtpCatcher};

/// The running platform of one test, with its own SMTP server.
pub struct TestApp {
    platform: Option<Platform>,
    pub http: reqwest::Client,
    /// Calls as staff (`X-Role: staff`, or a staff token, on every request): set-up
    /// and checks.
    pub staff: reqwest::Client,
    /// The staff bearer token `staff` sends (`AUTH_MODE=oidc`); `None`: it sends
    /// `X-Role: staff`. For the typed staff clients.
    staff_token: Option<String>,
    /// Customers' ID tokens from the test issuer (`AUTH_MODE=oidc`); `None`: they
    /// call with `X-Customer-Id`.
    tokens: Option<crate::client::TokenSigner>,
    smtp: SmtpState,
    /// The payment provider: Stripe's API subset, with its ledger and outage switch.
    pub gateway: cartflow_platform::gateway::GatewaySandbox,
    /// Publishes every saga message a second time, for the tests that want each event
    /// delivered twice.
    duplicator: Option<duplicator::Duplicator>,
    // Declared last: dropped after the platform, so its databases go after it stops.
    pub infra: TestInfra,
}

enum SmtpState {
    Up(SmtpCatcher),
    Down(Restartable),
    Moving,
}

//! `spawn_app()`: the whole platform (`cartflow_platform::Platform`) on free ports,
//! with per-test databases and a per-test topic prefix, and what the end-to-end tests
//! do with it, by concern:
//! - `infra`: a test's own topic prefix and databases on the shared emulator and
//!   server, removed when the test ends;
//! - `app`: the running platform, its SMTP catcher, its databases and the CLI;
//! - `calls`: the REST calls the tests make, as a client would;
//! - `duplicator`: every message published twice, from outside the platform;
//! - `issuer`: a test OpenID Connect issuer, for the platform in `AUTH_MODE=oidc`;
//! - `wait`: waiting on a condition with a deadline, and checking problem responses.

mod app;
mod calls;
mod duplicator;
mod infra;
pub mod issuer;
mod wait;

pub use app::{
    spawn_app, spawn_app_duplicating, spawn_app_on, spawn_app_signed_in, spawn_app_with,
};
pub use infra::{TestInfra, free_port};
pub use wait::{assert_problem, count, eventually, eventually_within};

use cartflow_platform::Platform;
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

//! The end-to-end tests' helpers: the testkit's platform layer (`spawn_app()` and
//! what a test does with it, see `cartflow_testkit::platform`), plus what only this
//! crate can do:
//! - [`cartflow()`]: the operator CLI, the `cartflow` binary of this package
//!   (`CARGO_BIN_EXE_cartflow`);
//! - `browser`: headless Chromium over WebDriver, and the console, for its tests.

pub mod browser;

pub use cartflow_testkit::platform::*;

/// Runs the `cartflow` operator CLI on `app`'s databases; returns its stdout and
/// stderr after checking that it succeeded.
pub async fn cartflow(app: &TestApp, args: &[&str]) -> (String, String) {
    app.operator_cli(env!("CARGO_BIN_EXE_cartflow"), args).await
}

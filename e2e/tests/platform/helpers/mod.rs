//! The end-to-end tests' helpers: the e2e crate's platform harness (`spawn_app()` and
//! what a test does with it), plus:
//! - [`cartflow()`]: the operator CLI, the workspace's `cartflow` binary;
//! - `browser`: headless Chromium over WebDriver, and the console, for its tests.

pub mod browser;

pub use cartflow_e2e::*;

/// Runs the `cartflow` operator CLI on `app`'s databases; returns its stdout and
/// stderr after checking that it succeeded.
pub async fn cartflow(app: &TestApp, args: &[&str]) -> (String, String) {
    app.operator_cli(&cartflow_binary(), args).await
}

/// The first `sh` code block of a Markdown `page` that contains `text`.
pub fn sh_block<'a>(page: &'a str, text: &str) -> Option<&'a str> {
    page.split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains(text))
}

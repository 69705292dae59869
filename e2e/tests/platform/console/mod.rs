//! The web console in a real browser (headless Chromium over WebDriver) against a
//! running platform: the storefront checks out and cancels, the explorer shows every
//! hop of that checkout, the overview and topology show the platform live, and a dead
//! letter is replayed from its page once its cause is fixed. Screenshots of every
//! page go to `target/tmp/console-screenshots/`.
//!
//! The tests are in `storefront` (the storefront, explorer, overview and topology),
//! `dead_letters` (a dead letter replayed from its page) and `sign_in` (without a
//! browser: the console's host names, its cookie and who signs in).

mod dead_letters;
mod sign_in;
mod storefront;

/// The operator's token the tests' platforms and consoles run with.
const TOKEN: &str = "console-admin-token-0123456789";

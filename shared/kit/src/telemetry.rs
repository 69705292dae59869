//! Logging set-up: human-readable lines locally, JSON lines in production.

use tracing_subscriber::EnvFilter;

const DEFAULT_FILTER: &str = "info,sqlx=warn,google_cloud_pubsub=warn";

/// Installs the global subscriber once; later calls are no-ops (tests start many apps).
/// `LOG_FORMAT=json` selects JSON; `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.into());
    init_with(&filter);
}

/// As [`init`], with an explicit filter.
pub fn init_with(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A log sink that goes away (a closed pipe) must not take the service down: by
    // default tracing-subscriber reports write failures with `eprintln!`, which panics
    // when stderr is that same closed pipe.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .log_internal_errors(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}

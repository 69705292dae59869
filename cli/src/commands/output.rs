//! How commands print: `-o table|json` for records, `-q` for less, `-v` for more.

use clap::{Args, ValueEnum};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// How a command prints its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned lines for people.
    #[default]
    Table,
    /// One JSON document on stdout, for scripts (e.g. piped to `jq`).
    Json,
}

/// `-o table|json`, flattened into every command that prints records.
#[derive(Args, Clone, Copy, Debug)]
pub struct Output {
    /// Output format: `table` for people, `json` for scripts.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl Output {
    pub fn json(self) -> bool {
        self.format == Format::Json
    }

    /// Prints `value` as pretty JSON on stdout.
    pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// Set once from `-q` before the command runs.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// `-q`: no progress bars and no notes on stderr; records and errors still print.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A note for people on stderr (what was written, what is up to date), unless `-q`.
pub fn note(message: impl std::fmt::Display) {
    if !quiet() {
        eprintln!("{message}");
    }
}

/// The kit's default: info, without the SQL and Pub/Sub clients' chatter.
const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,google_cloud_pubsub=warn";

/// The log filter: `-q` errors only, `-v` debug, `-vv` trace, else `RUST_LOG` or info.
/// A flag wins over the environment, as it was typed last.
pub fn log_filter(quiet: bool, verbose: u8) -> String {
    match (quiet, verbose) {
        (true, _) => "error".into(),
        (false, 0) => std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
        (false, 1) => "debug".into(),
        (false, _) => "trace".into(),
    }
}

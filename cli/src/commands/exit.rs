//! The exit codes of `cartflow`, one per kind of outcome, so that scripts can tell a
//! typo from a missing setting, an empty answer or a found difference.
//!
//! A command returns an `anyhow::Error`; one carrying an [`Outcome`] (anywhere in its
//! chain) exits with that outcome's code, a `ConfigError` from the settings parser
//! with [`CONFIGURATION`], and any other error with [`FAILURE`]. clap exits with
//! [`USAGE`] on its own.

use std::fmt;

/// Success.
pub const OK: u8 = 0;
/// Something failed while the command ran (a service or Pub/Sub did not answer, a
/// replay left events unpublished, ...).
pub const FAILURE: u8 = 1;
/// The command line is wrong: an unknown command or flag, a bad value, a missing
/// argument, or a destructive command without `--yes` off a terminal.
pub const USAGE: u8 = 2;
/// A setting (flag or environment variable) has a value that cannot work.
pub const CONFIGURATION: u8 = 3;
/// What was asked for does not exist (e.g. `timeline` of an id nothing recorded).
pub const NOTHING_FOUND: u8 = 4;
/// A comparison found differences (`payments reconcile`, `asyncapi --check`,
/// `config-reference --check`).
pub const DIFFERENCE: u8 = 5;

/// Every code with its meaning: the table in `cartflow --help` and
/// docs/operations.md (a test keeps them equal).
pub const CODES: [(u8, &str); 6] = [
    (OK, "success"),
    (
        FAILURE,
        "the command failed while it ran (a service or Pub/Sub did not answer, ...)",
    ),
    (
        USAGE,
        "usage error: unknown command or flag, bad or missing argument, a destructive command without --yes",
    ),
    (
        CONFIGURATION,
        "configuration error: a setting (flag or environment variable) cannot work",
    ),
    (
        NOTHING_FOUND,
        "nothing found: what was asked for does not exist",
    ),
    (
        DIFFERENCE,
        "difference found: a comparison (reconcile, --check) found differences",
    ),
];

/// The exit-code table as it appears in `--help` (and, as Markdown, in
/// docs/operations.md).
pub fn help_table() -> String {
    let mut out = String::from("Exit codes:\n");
    for (code, meaning) in CODES {
        out.push_str(&format!("  {code}  {meaning}\n"));
    }
    out
}

/// The table's rows in docs/operations.md, between its exit-codes markers.
pub fn markdown_table() -> String {
    let mut out = String::from("| code | meaning |\n|---|---|\n");
    for (code, meaning) in CODES {
        out.push_str(&format!("| {code} | {meaning} |\n"));
    }
    out
}

/// An outcome that is not a plain failure, carried in an `anyhow::Error`.
#[derive(Debug)]
pub enum Outcome {
    Usage(String),
    Configuration(String),
    NothingFound(String),
    Difference(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Usage(m)
            | Outcome::Configuration(m)
            | Outcome::NothingFound(m)
            | Outcome::Difference(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Outcome {}

impl Outcome {
    pub fn code(&self) -> u8 {
        match self {
            Outcome::Usage(_) => USAGE,
            Outcome::Configuration(_) => CONFIGURATION,
            Outcome::NothingFound(_) => NOTHING_FOUND,
            Outcome::Difference(_) => DIFFERENCE,
        }
    }
}

/// The exit code for a command's error.
pub fn code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(outcome) = cause.downcast_ref::<Outcome>() {
            return outcome.code();
        }
        if cause.is::<cartflow_kit::config::ConfigError>() {
            return CONFIGURATION;
        }
    }
    FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn outcomes_keep_their_code_under_context() {
        let err =
            anyhow::Error::new(Outcome::Difference("2 differences".into())).context("reconciling");
        assert_eq!(code_of(&err), DIFFERENCE);
        let err: anyhow::Result<()> = Err(Outcome::NothingFound("none".into())).context("timeline");
        assert_eq!(code_of(&err.unwrap_err()), NOTHING_FOUND);
        let config = cartflow_kit::config::ConfigError(vec!["PORT='x': expected a port".into()]);
        assert_eq!(code_of(&anyhow::Error::new(config)), CONFIGURATION);
        assert_eq!(code_of(&anyhow::anyhow!("no answer")), FAILURE);
    }

    /// docs/operations.md shows exactly these codes.
    #[test]
    fn the_operations_page_lists_the_codes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");
        let page = std::fs::read_to_string(path).unwrap();
        let expected = crate::config_reference::splice_between(
            &page,
            "<!-- BEGIN exit-codes: kept equal to cli/src/commands/exit.rs by a test -->",
            "<!-- END exit-codes -->",
            &markdown_table(),
        )
        .unwrap();
        assert!(
            page == expected,
            "docs/operations.md's exit codes differ from exit::CODES:\n{}",
            markdown_table()
        );
    }

    #[test]
    fn the_codes_are_distinct() {
        let mut codes: Vec<u8> = CODES.iter().map(|(c, _)| *c).collect();
        codes.dedup();
        assert_eq!(codes.len(), CODES.len());
    }
}

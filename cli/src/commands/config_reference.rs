//! `cartflow config-reference`: every environment variable cartflow reads
//! (`crate::config_reference`), printed, written into a page between its markers, or
//! compared with one.

use super::exit::Outcome;
use super::output::{Output, note};
use crate::config_reference::{self, SETTINGS};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ConfigReferenceArgs {
    /// Replace the table between the markers of FILE (docs/configuration.md).
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    write: Option<PathBuf>,
    /// Compare the table between the markers of FILE with the code's; exit 5 when stale.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
    #[command(flatten)]
    output: Output,
}

pub fn run(args: ConfigReferenceArgs) -> anyhow::Result<()> {
    let table = config_reference::markdown();
    let Some(path) = args.write.as_ref().or(args.check.as_ref()) else {
        if args.output.json() {
            return Output::print_json(&SETTINGS);
        }
        print!("{table}");
        return Ok(());
    };
    let shown = path.display();
    let page = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
    let current = config_reference::splice(&page, &table)
        .map_err(|e| Outcome::Usage(format!("{shown}: {e}")))?;
    if args.write.is_some() {
        std::fs::write(path, &current).with_context(|| format!("writing {shown}"))?;
        note(format!("wrote the configuration reference into {shown}"));
    } else if current != page {
        return Err(Outcome::Difference(format!(
            "{shown} is stale: its configuration table is not the code's; \
             regenerate it with `cartflow config-reference --write {shown}`"
        ))
        .into());
    } else {
        note(format!("{shown} is up to date"));
    }
    Ok(())
}

//! `cartflow timeline`: one saga across every service.

use super::args::DatabaseArgs;
use super::exit::Outcome;
use super::output::Output;
use clap::Args;

#[derive(Args)]
pub struct TimelineArgs {
    /// The saga's id: for a checkout, the cart id; for a product's catalog changes, its SKU.
    correlation_id: String,
    #[command(flatten)]
    databases: DatabaseArgs,
    #[command(flatten)]
    output: Output,
}

pub async fn run(args: TimelineArgs) -> anyhow::Result<()> {
    let TimelineArgs {
        correlation_id,
        databases,
        output,
    } = args;
    let entries = crate::timeline::collect(
        &databases.server.database_url,
        &databases.database_prefix,
        &correlation_id,
    )
    .await?;
    if output.json() {
        Output::print_json(&entries)?;
    }
    if entries.is_empty() {
        // Scripts tell "no such saga" from a failure by the exit code (4).
        return Err(Outcome::NothingFound(format!("nothing recorded for {correlation_id}")).into());
    }
    if output.json() {
        return Ok(());
    }
    for e in entries {
        let id = e.event_id.map(|id| id.to_string()).unwrap_or_default();
        println!(
            "{}  {:<13} {:<9} {:<19} {id}  {}",
            e.at.format("%H:%M:%S%.3f"),
            e.service,
            e.what,
            e.event_type,
            e.detail
        );
    }
    Ok(())
}

//! `cartflow timeline`: one saga across every service.

use super::args::DatabaseArgs;
use clap::Args;

#[derive(Args)]
pub struct TimelineArgs {
    /// The saga's id: for a checkout, the cart id; for a product's catalog changes, its SKU.
    correlation_id: String,
    #[command(flatten)]
    databases: DatabaseArgs,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: TimelineArgs) -> anyhow::Result<()> {
    let TimelineArgs {
        correlation_id,
        databases,
        json,
    } = args;
    let entries = crate::timeline::collect(
        &databases.server.database_url,
        &databases.database_prefix,
        &correlation_id,
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("nothing recorded for {correlation_id}");
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

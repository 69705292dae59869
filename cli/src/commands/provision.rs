//! `cartflow provision`, `teardown` and `topology`: the Pub/Sub topology.

use super::args::Target;
use cartflow_messaging::provision;

/// Creates every topic and subscription (idempotent) and lists them.
pub async fn run(target: Target) -> anyhow::Result<()> {
    let pubsub = target.pubsub();
    let report = provision::provision(&pubsub).await?;
    for name in &report.created {
        println!("created  {name}");
    }
    for name in &report.existing {
        println!("exists   {name}");
    }
    Ok(())
}

/// Deletes every topic and subscription under the target's (non-empty) prefix.
pub async fn teardown(target: Target) -> anyhow::Result<()> {
    provision::teardown(&target.pubsub()).await
}

/// Prints the declared topology as JSON.
pub fn topology() -> anyhow::Result<()> {
    println!("{}", crate::topology_json());
    Ok(())
}

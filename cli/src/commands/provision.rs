//! `cartflow provision`, `teardown` and `topology`: the Pub/Sub topology.

use super::args::Target;
use super::exit::Outcome;
use super::output::Output;
use cartflow_messaging::provision;
use std::io::{BufRead, IsTerminal, Write};

/// Creates every topic and subscription (idempotent) and lists them.
pub async fn run(target: Target, output: Output) -> anyhow::Result<()> {
    let pubsub = target.pubsub();
    let report = provision::provision(&pubsub).await?;
    if output.json() {
        return Output::print_json(
            &serde_json::json!({ "created": report.created, "existing": report.existing }),
        );
    }
    for name in &report.created {
        println!("created  {name}");
    }
    for name in &report.existing {
        println!("exists   {name}");
    }
    Ok(())
}

/// Deletes every topic and subscription under the target's (non-empty) prefix, once
/// confirmed: by `--yes`, or by answering `y` on a terminal. Off a terminal without
/// `--yes` it refuses (exit code 2), so a script cannot delete by accident.
pub async fn teardown(target: Target, yes: bool) -> anyhow::Result<()> {
    let pubsub = target.pubsub();
    if pubsub.topic_prefix.is_empty() {
        return Err(Outcome::Usage(
            "teardown deletes under a prefix: name one with --topic-prefix (or CARTFLOW_TOPIC_PREFIX)".into(),
        )
        .into());
    }
    if !yes {
        let question = format!(
            "Delete every topic and subscription named {}* in project {}{}?",
            pubsub.topic_prefix,
            pubsub.project_id,
            pubsub
                .emulator_host
                .as_deref()
                .map(|h| format!(" (emulator {h})"))
                .unwrap_or_default()
        );
        confirm(&question)?;
    }
    provision::teardown(&pubsub).await
}

/// Asks `question` on the terminal; anything but y/yes is a refusal. Without a
/// terminal it refuses at once, naming `--yes`.
fn confirm(question: &str) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Outcome::Usage(format!(
            "{question} Not asked: stdin is not a terminal; pass --yes to confirm"
        ))
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Outcome::Usage("not confirmed: nothing deleted".into()).into()),
    }
}

/// Prints the declared topology as JSON.
pub fn topology() -> anyhow::Result<()> {
    println!("{}", crate::topology_json());
    Ok(())
}

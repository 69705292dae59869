//! `cartflow dlq`: inspect and replay dead-lettered messages.

use super::args::Target;
use super::output::Output;
use crate::progress::Progress;
use cartflow_messaging::dead_letters as dlq;
use clap::Subcommand;
use futures::StreamExt;

#[derive(Subcommand)]
pub enum Dlq {
    /// List what the dead-letter subscriptions hold (all of them, or one). Nothing is
    /// removed.
    #[command(after_help = "Examples:
  cartflow dlq list
  cartflow dlq list --subscription inventory.order-requested.dead-letter -o json")]
    List {
        #[command(flatten)]
        target: Target,
        /// One dead-letter subscription, e.g. `inventory.order-requested.dead-letter`.
        #[arg(long)]
        subscription: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Publish dead letters back to the topic they came from, once their cause is fixed.
    /// They keep their event ids, so consumers that already had them skip them: safe to
    /// repeat.
    #[command(after_help = "Examples:
  cartflow dlq replay --subscription inventory.order-requested.dead-letter --dry-run
  cartflow dlq replay --subscription inventory.order-requested.dead-letter --event-id 6f1c7a52-0d7e-4c4e-9a51-1f3a0e2b9c11
  cartflow dlq replay --subscription cart.order-created.dead-letter --type order.created --since 2026-01-01T00:00:00Z")]
    Replay {
        #[command(flatten)]
        target: Target,
        /// The dead-letter subscription to replay from.
        #[arg(long)]
        subscription: String,
        /// Only these event ids (repeatable).
        #[arg(long = "event-id")]
        event_ids: Vec<String>,
        /// Only this event type, e.g. `order.created`.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only events that occurred at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only events that occurred at or before this time (RFC 3339).
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// Show what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        output: Output,
    },
}

/// Dead-letter subscriptions `dlq list` reads at once.
const LOOKS_AT_ONCE: usize = 8;

pub async fn run(command: Dlq) -> anyhow::Result<()> {
    match command {
        Dlq::List {
            target,
            subscription,
            output,
        } => {
            let json = output.json();
            let pubsub = target.pubsub();
            let subscriptions = match subscription {
                Some(one) => vec![one],
                None => dlq::dead_letter_subscriptions(&pubsub)
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect(),
            };
            // Each read ends after the subscription stays quiet for DEFAULT_IDLE (2 s):
            // read several at once, or the 36 of the full topology take over a minute.
            let reads: Vec<_> = futures::stream::iter(subscriptions)
                .map(|name| {
                    let pubsub = &pubsub;
                    async move {
                        let letters = dlq::list(pubsub, &name, dlq::DEFAULT_IDLE).await;
                        (name, letters)
                    }
                })
                .buffered(LOOKS_AT_ONCE)
                .collect()
                .await;
            let mut all = Vec::new();
            for (name, letters) in reads {
                let letters = letters?;
                if !json {
                    println!("{name}: {} message(s)", letters.len());
                    for l in &letters {
                        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                        println!(
                            "  {}  {}  event {}  saga {}  attempts {}\n    {}",
                            show(&l.occurred_at),
                            show(&l.event_type),
                            show(&l.event_id),
                            show(&l.correlation_id),
                            show(&l.delivery_attempts),
                            l.body
                        );
                    }
                }
                all.push(serde_json::json!({ "subscription": name, "messages": letters }));
            }
            if json {
                Output::print_json(&all)?;
            }
            Ok(())
        }
        Dlq::Replay {
            target,
            subscription,
            event_ids,
            event_type,
            since,
            until,
            dry_run,
            output,
        } => {
            let filter = dlq::Filter {
                event_ids,
                event_type,
                since,
                until,
            };
            let verb = if dry_run { "would replay" } else { "replayed" };
            let mut progress = Progress::new();
            let report = dlq::replay(
                &target.pubsub(),
                &subscription,
                &filter,
                dry_run,
                dlq::DEFAULT_IDLE,
                |done, total, l| {
                    let what = format!(
                        "{verb} {} {}",
                        l.event_type.as_deref().unwrap_or("?"),
                        l.event_id.as_deref().unwrap_or(&l.message_id)
                    );
                    progress.show(done, total, &what);
                },
            )
            .await?;
            progress.finish();
            if output.json() {
                return Output::print_json(&serde_json::json!({
                    "subscription": subscription,
                    "matched": report.matched,
                    "replayed": report.replayed,
                    "left": report.left,
                    "dry_run": dry_run,
                }));
            }
            println!(
                "{subscription}: {} matched, {} replayed, {} left in place{}",
                report.matched,
                report.replayed,
                report.left,
                if dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}

//! `cartflow events`: inspect and replay the event log.

use super::args::DatabaseArgs;
use super::output::Output;
use crate::events::{self, Selection};
use crate::progress::Progress;
use cartflow_events::Service;
use cartflow_messaging::event_log::{self, EventFilter};
use clap::{Args, Subcommand};

/// Which logged events: every given selector must match.
#[derive(Args)]
pub struct EventSelection {
    #[command(flatten)]
    databases: DatabaseArgs,
    /// Only events some consumer failed and has not processed since.
    #[arg(long)]
    failed: bool,
    /// Only events this service published (repeatable), e.g. `cart`.
    #[arg(long = "service")]
    producers: Vec<Service>,
    /// Only these event ids (repeatable).
    #[arg(long = "event-id")]
    event_ids: Vec<uuid::Uuid>,
    /// Only this event type, e.g. `order.created`.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Only this saga (for a checkout, the cart id).
    #[arg(long)]
    correlation_id: Option<String>,
    /// Only events created at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events created at or before this time (RFC 3339).
    #[arg(long)]
    until: Option<chrono::DateTime<chrono::Utc>>,
}

impl EventSelection {
    pub fn selection(self) -> (events::Databases, Selection) {
        let selection = Selection {
            filter: EventFilter {
                event_ids: self.event_ids,
                event_type: self.event_type,
                correlation_id: self.correlation_id,
                since: self.since,
                until: self.until,
            },
            failed: self.failed,
            producers: self.producers,
        };
        (self.databases.databases(), selection)
    }
}

#[derive(Subcommand)]
pub enum Events {
    /// List logged events (published by the services) and, with --failed or alone, the
    /// consumed events that failed and were never processed.
    #[command(after_help = "Examples:
  cartflow events list                                   # consumed events that failed and were never processed
  cartflow events list --correlation-id <cart id>        # what each service published for a checkout
  cartflow events list --service cart --type order-requested --since 2026-01-01T00:00:00Z -o json")]
    List {
        #[command(flatten)]
        select: EventSelection,
        #[command(flatten)]
        output: Output,
    },
    /// Publish logged events again, with their original ids: consumers that had them
    /// skip them, one that failed or lost them processes them. Safe to repeat. Needs a
    /// selector (--failed, --event-id, --type, --correlation-id, --since or --until);
    /// the producing services must be running for their relays to publish.
    #[command(after_help = "Examples:
  cartflow events replay --failed --dry-run               # what a replay would publish again
  cartflow events replay --failed                         # progress bar until the relays have published them
  cartflow events replay --correlation-id <cart id> --type order.created")]
    Replay {
        #[command(flatten)]
        select: EventSelection,
        /// Show what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for the producers' relays to publish.
        #[arg(long, default_value_t = 30)]
        wait: u64,
        #[command(flatten)]
        output: Output,
    },
}

pub async fn run(command: Events) -> anyhow::Result<()> {
    match command {
        Events::List { select, output } => {
            let (databases, selection) = select.selection();
            // Without a selector the whole history would scroll by: show the failures.
            let only_failures = !selection.failed
                && selection.producers.is_empty()
                && !event_log::selects(&selection.filter);
            let failures = events::unresolved_failures(&databases).await?;
            let picked = if only_failures {
                Vec::new()
            } else {
                events::select(&databases, &selection).await?
            };
            if output.json() {
                let published: Vec<_> = picked
                    .iter()
                    .map(|(s, e)| serde_json::json!({ "service": s.name(), "events": e }))
                    .collect();
                let out =
                    serde_json::json!({ "published": published, "unresolved_failures": failures });
                return Output::print_json(&out);
            }
            for (service, logged) in &picked {
                println!("{service}: {} event(s)", logged.len());
                for e in logged {
                    let state = match (&e.published_at, &e.last_error) {
                        (Some(at), _) => format!("published {}", at.format("%H:%M:%S%.3f")),
                        (None, Some(err)) => format!("unpublished: {err}"),
                        (None, None) => "queued".into(),
                    };
                    println!(
                        "  {}  {:<19} {}  saga {}  {state}",
                        e.created_at.format("%Y-%m-%d %H:%M:%S%.3f"),
                        e.event_type,
                        e.event_id,
                        e.correlation_id
                    );
                }
            }
            if only_failures {
                println!(
                    "(published events: add --failed, --service, --type, --correlation-id, --since or --until)"
                );
            }
            println!("failed and never processed: {}", failures.len());
            for f in &failures {
                let u = &f.failure;
                println!(
                    "  {}  {:<13} {:<19} {}  {} × {}: {}",
                    u.last_failed_at.format("%Y-%m-%d %H:%M:%S%.3f"),
                    f.consumer,
                    u.event_type.as_deref().unwrap_or("?"),
                    u.event_id,
                    u.attempts,
                    u.kind,
                    u.last_error
                );
            }
            Ok(())
        }
        Events::Replay {
            select,
            dry_run,
            wait,
            output,
        } => {
            let (databases, selection) = select.selection();
            anyhow::ensure!(
                event_log::selects(&selection.filter) || selection.failed,
                "choose the events to replay: --failed, --event-id, --type, --correlation-id, --since or --until"
            );
            let picked = events::select(&databases, &selection).await?;
            let matched: usize = picked.iter().map(|(_, e)| e.len()).sum();
            if dry_run {
                let mut progress = Progress::new();
                let mut done = 0;
                for (service, logged) in &picked {
                    for e in logged {
                        done += 1;
                        let what =
                            format!("would replay {service} {} {}", e.event_type, e.event_id);
                        progress.show(done, matched, &what);
                    }
                }
                progress.finish();
                if output.json() {
                    return Output::print_json(
                        &serde_json::json!({ "matched": matched, "published": 0, "dry_run": true }),
                    );
                }
                println!("{matched} event(s) matched (dry run: nothing changed)");
                return Ok(());
            }
            let mut progress = Progress::new();
            let report = events::replay(
                &databases,
                &picked,
                std::time::Duration::from_secs(wait),
                |done, total| progress.show(done, total, "published again"),
            )
            .await?;
            progress.finish();
            if output.json() {
                Output::print_json(&serde_json::json!({
                    "matched": report.matched,
                    "published": report.published,
                    "dry_run": false,
                }))?;
            } else {
                println!(
                    "{} event(s) matched, {} published again",
                    report.matched, report.published
                );
            }
            anyhow::ensure!(
                report.published == report.matched,
                "{} event(s) are queued but not yet published: is the producing service running?",
                report.matched - report.published
            );
            Ok(())
        }
    }
}

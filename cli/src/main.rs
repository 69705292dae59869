//! `cartflow`: run and operate the platform locally.

use anyhow::Context;
use cartflow::events::{self, Selection};
use cartflow::platform::{Platform, PlatformSettings, SERVICES};
use cartflow::progress::Progress;
use cartflow::seed;
use cartflow::smtp_catcher::SmtpCatcher;
use cartflow_events::Service;
use cartflow_kit::{Env, telemetry};
use cartflow_messaging::dead_letters as dlq;
use cartflow_messaging::event_log::{self, EventFilter};
use cartflow_messaging::{PubSubConfig, provision};
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cartflow",
    version,
    about = "Run and operate cartflow, the event-driven order platform."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process on its SPEC port, with the topology provisioned
    /// and demo data loaded. Needs PostgreSQL and the Pub/Sub emulator (scripts/dev.sh
    /// starts both). Ctrl-C stops cleanly.
    Dev {
        #[command(flatten)]
        target: Target,
        /// Do not load the demo catalog.
        #[arg(long)]
        no_seed: bool,
    },
    /// Create every topic and subscription of the topology (idempotent) and list them.
    Provision {
        #[command(flatten)]
        target: Target,
    },
    /// Run every service as its own process (`cartflow serve <service>`) on its SPEC
    /// port, as in production: databases and topology created, a mail catcher on
    /// 127.0.0.1:1025 unless SMTP_HOST is set. No demo data. Ctrl-C stops them all.
    /// scripts/bench.sh runs the benchmark against it.
    Stack {
        #[command(flatten)]
        target: Target,
    },
    /// Drive a running stack with virtual shoppers and report throughput, latency,
    /// errors, CPU and memory per process, and PostgreSQL commits (see BENCHMARKS.md).
    /// Each shopper adds two lines, converts, and waits for the outcome, which this
    /// command learns from its own Pub/Sub subscriptions. Writes <out>/<label>.json and
    /// an SVG plot. scripts/bench.sh starts a stack of separate processes and runs this.
    Load(LoadArgs),
    /// Run one service in this process, configured from the environment like its own
    /// binary (`<service>-service`): e.g. `cartflow serve inventory`.
    Serve {
        /// order, product, inventory, notification, email-push, cart or customer.
        service: Service,
    },
    /// Delete every topic and subscription under a prefix (which must not be empty):
    /// for cleaning up test and scratch topologies.
    Teardown {
        #[command(flatten)]
        target: Target,
    },
    /// Print the Pub/Sub topology the code declares, as JSON: services with the topics
    /// they publish and the subscriptions they consume, every topic, and every
    /// subscription with its dead-letter and retry policy. `terraform/topology.json` is
    /// this output (a test fails when they differ); `scripts/pubsub-topology.sh`
    /// compares it with a live emulator or project.
    Topology,
    /// Inspect and replay dead-lettered messages.
    #[command(subcommand)]
    Dlq(Dlq),
    /// Inspect and replay the event log: what each service published (its outbox) and
    /// the consumed events that failed and were never processed.
    #[command(subcommand)]
    Events(Events),
    /// Show a saga's timeline across every service: what each published, consumed and
    /// failed to consume, in time order. The correlation id of a checkout is its cart id.
    Timeline {
        /// The saga's id: for a checkout, the cart id.
        correlation_id: String,
        #[command(flatten)]
        databases: DatabaseArgs,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// Where the services' databases are.
#[derive(Args)]
struct DatabaseArgs {
    /// PostgreSQL server holding the services' databases.
    #[arg(long, env = "DATABASE_URL", default_value = cartflow_kit::config::DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Prefix of the databases' names (test runs use one).
    #[arg(long, default_value = "")]
    database_prefix: String,
}

impl DatabaseArgs {
    fn databases(&self) -> events::Databases {
        events::Databases {
            server_url: self.database_url.clone(),
            prefix: self.database_prefix.clone(),
        }
    }
}

/// Which logged events: every given selector must match.
#[derive(Args)]
struct EventSelection {
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
    fn selection(self) -> (events::Databases, Selection) {
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
enum Events {
    /// List logged events (published by the services) and, with --failed or alone, the
    /// consumed events that failed and were never processed.
    List {
        #[command(flatten)]
        select: EventSelection,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Publish logged events again, with their original ids: consumers that had them
    /// skip them, one that failed or lost them processes them. Safe to repeat. Needs a
    /// selector (--failed, --event-id, --type, --correlation-id, --since or --until);
    /// the producing services must be running for their relays to publish.
    Replay {
        #[command(flatten)]
        select: EventSelection,
        /// Show what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for the producers' relays to publish.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
}

#[derive(Subcommand)]
enum Dlq {
    /// List what the dead-letter subscriptions hold (all of them, or one). Nothing is
    /// removed.
    List {
        #[command(flatten)]
        target: Target,
        /// One dead-letter subscription, e.g. `inventory.order-requested.dead-letter`.
        #[arg(long)]
        subscription: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Publish dead letters back to the topic they came from, once their cause is fixed.
    /// They keep their event ids, so consumers that already had them skip them: safe to
    /// repeat.
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
    },
}

#[derive(Args)]
struct LoadArgs {
    #[command(flatten)]
    target: Target,
    /// Concurrent virtual shoppers.
    #[arg(long, short = 'c', default_value_t = 10)]
    concurrency: usize,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Seconds after which a checkout that has not ended counts as an error.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Find the knee: run each of --levels in turn and stop after the first whose p99
    /// convert → confirmed exceeds --p99-bound-ms (or that has errors).
    #[arg(long)]
    knee: bool,
    /// Concurrency levels for --knee.
    #[arg(long, value_delimiter = ',', default_value = "5,10,20,30,50,75,100")]
    levels: Vec<usize>,
    #[arg(long, default_value_t = 150)]
    p99_bound_ms: u64,
    /// Customers each shopper cycles through.
    #[arg(long, default_value_t = 3)]
    customers_per_shopper: usize,
    /// Distinct products lines are picked from.
    #[arg(long, default_value_t = 100)]
    products: usize,
    /// Host the services listen on (on their SPEC ports).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Before the run, add this many rows to every service's inbox and outbox, half of
    /// them past the retention windows: shows whether checkouts slow down as the tables
    /// grow, with retention removing the aged half meanwhile.
    #[arg(long, default_value_t = 0)]
    prefill_rows: u64,
    /// Where to write <label>.json and <label>.svg.
    #[arg(long, default_value = ".work/bench")]
    out: std::path::PathBuf,
    /// Name of the result files (default: c<concurrency>, or knee).
    #[arg(long)]
    label: Option<String>,
}

/// Where the platform's infrastructure is.
#[derive(Args)]
struct Target {
    /// PostgreSQL server; each service gets its own database on it.
    #[arg(long, env = "DATABASE_URL", default_value = cartflow_kit::config::DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Pub/Sub emulator host:port. Leave unset to use Google Cloud (Application Default Credentials).
    #[arg(long, env = "PUBSUB_EMULATOR_HOST")]
    emulator: Option<String>,
    /// Google Cloud project id (or the emulator's project).
    #[arg(long, env = "PUBSUB_PROJECT_ID", default_value = cartflow_messaging::pubsub::DEFAULT_PROJECT)]
    project: String,
    /// Prefix for every topic and subscription name.
    #[arg(long, env = "CARTFLOW_TOPIC_PREFIX", default_value = "")]
    topic_prefix: String,
}

impl Target {
    fn pubsub(&self) -> PubSubConfig {
        PubSubConfig {
            project_id: self.project.clone(),
            emulator_host: self.emulator.clone(),
            topic_prefix: self.topic_prefix.clone(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { service } => {
            return cartflow::platform::serve(service, Env::from_process()).await;
        }
        Command::Dev { target, no_seed } => dev(target, !no_seed).await,
        Command::Provision { target } => provision_topology(target).await,
        Command::Teardown { target } => provision::teardown(&target.pubsub()).await,
        Command::Topology => {
            println!("{}", cartflow::topology_json());
            Ok(())
        }
        Command::Dlq(command) => dead_letters(command).await,
        Command::Events(command) => event_log(command).await,
        Command::Load(args) => load(args).await,
        Command::Stack { target } => stack(target).await,
        Command::Timeline {
            correlation_id,
            databases,
            json,
        } => {
            show_timeline(
                &databases.database_url,
                &databases.database_prefix,
                &correlation_id,
                json,
            )
            .await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn provision_topology(target: Target) -> anyhow::Result<()> {
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

async fn show_timeline(
    server: &str,
    prefix: &str,
    correlation_id: &str,
    json: bool,
) -> anyhow::Result<()> {
    let entries = cartflow::timeline::collect(server, prefix, correlation_id).await?;
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

async fn dead_letters(command: Dlq) -> anyhow::Result<()> {
    match command {
        Dlq::List {
            target,
            subscription,
            json,
        } => {
            let pubsub = target.pubsub();
            let subscriptions = match subscription {
                Some(one) => vec![one],
                None => dlq::dead_letter_subscriptions(&pubsub)
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect(),
            };
            let mut all = Vec::new();
            for name in subscriptions {
                let letters = dlq::list(&pubsub, &name, dlq::DEFAULT_IDLE).await?;
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
                println!("{}", serde_json::to_string_pretty(&all)?);
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

async fn event_log(command: Events) -> anyhow::Result<()> {
    match command {
        Events::List { select, json } => {
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
            if json {
                let published: Vec<_> = picked
                    .iter()
                    .map(|(s, e)| serde_json::json!({ "service": s.name(), "events": e }))
                    .collect();
                let out =
                    serde_json::json!({ "published": published, "unresolved_failures": failures });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
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
            println!(
                "{} event(s) matched, {} published again",
                report.matched, report.published
            );
            anyhow::ensure!(
                report.published == report.matched,
                "{} event(s) are queued but not yet published: is the producing service running?",
                report.matched - report.published
            );
            Ok(())
        }
    }
}

async fn dev(target: Target, seed_demo: bool) -> anyhow::Result<()> {
    let pubsub = target.pubsub();
    let topics = pubsub.topic_admin().await?;
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        provision::ping(&pubsub, &topics),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))
    .and_then(|r| r)
    .with_context(|| match &pubsub.emulator_host {
        Some(host) => {
            format!("no Pub/Sub emulator answers at {host}; start one with scripts/dev.sh")
        }
        None => {
            "Pub/Sub is not reachable (PUBSUB_EMULATOR_HOST is unset, so Google Cloud was tried)"
                .into()
        }
    })?;

    let mut env = Env::from_process();
    // A mail catcher (with its view on :8025) unless SMTP_HOST names a real server.
    let catcher = SmtpCatcher::unless_configured(&mut env).await?;
    if let Some(catcher) = &catcher {
        let view = tokio::net::TcpListener::bind(("127.0.0.1", 8025))
            .await
            .context("binding the mail view on 127.0.0.1:8025")?;
        let router = catcher.router();
        tokio::spawn(async move { axum::serve(view, router).await });
    }
    let settings = PlatformSettings {
        server_url: target.database_url.clone(),
        database_prefix: String::new(),
        pubsub: pubsub.clone(),
        port_override: None,
        env,
    };
    let platform = Platform::start(&settings).await?;
    if seed_demo {
        let people = seed::seed_customers(&platform.url(Service::Customer)).await?;
        let stock = seed::seed_catalog(
            &platform.url(Service::Product),
            &platform.url(Service::Inventory),
        )
        .await?;
        tracing::info!(
            created = people.created + stock.created,
            already_there = people.already_there + stock.already_there,
            "demo customers and catalog loaded"
        );
    }
    print_banner(&platform, &pubsub, catcher.is_some());

    cartflow_kit::runtime::shutdown_on_signal()
        .cancelled()
        .await;
    platform.stop().await
}

fn print_banner(platform: &Platform, pubsub: &PubSubConfig, catching_mail: bool) {
    let url = |s| platform.url(s);
    let (cart, order, inventory) = (
        url(Service::Cart),
        url(Service::Order),
        url(Service::Inventory),
    );
    let customer = seed::CUSTOMERS[0].0;
    let other = seed::CUSTOMERS[1].0;
    println!("\ncartflow is running.\n");
    for service in SERVICES {
        println!(
            "  {:<13} {:<24} readiness: {1}/ready",
            service.name(),
            url(service)
        );
    }
    println!(
        r#"
Walk-through (copy and paste):

  # 1. Two lines into {name}'s cart, then check out
  curl -s -X POST {cart}/cart/items -H 'X-Customer-Id: {customer}' -H 'Content-Type: application/json' -d '{{"product_sku":"KB-101","quantity":1}}'
  curl -s -X POST {cart}/cart/items -H 'X-Customer-Id: {customer}' -H 'Content-Type: application/json' -d '{{"product_sku":"MS-201","quantity":2}}'
  curl -s -X POST {cart}/cart/convert-to-order -H 'X-Customer-Id: {customer}'
  sleep 1   # the saga takes ~0.1 s
  curl -s {cart}/cart -H 'X-Customer-Id: {customer}'          # status: converted, with order_id
  curl -s "{order}/orders?customer_id={customer}"              # status: confirmed
  curl -s {inventory}/inventory/KB-101                          # quantity went down

  # 2. More lamps than there are: the checkout ends stock_unavailable
  curl -s -X POST {cart}/cart/items -H 'X-Customer-Id: {other}' -H 'Content-Type: application/json' -d '{{"product_sku":"LP-601","quantity":5}}'
  curl -s -X POST {cart}/cart/convert-to-order -H 'X-Customer-Id: {other}'
  sleep 1
  curl -s {cart}/cart -H 'X-Customer-Id: {other}'             # status: stock_unavailable, with details

  # 3. Cancel the first order: stock comes back (a second cancel is 409)
  ORDER=$(curl -s "{order}/orders?customer_id={customer}" | sed -n 's/^\[{{"id":"\([^"]*\)".*/\1/p')
  curl -s -X POST {order}/orders/$ORDER/cancel -H 'Content-Type: application/json' -d '{{"reason":"changed my mind"}}'

  # 4. What the customer was told: notifications, emails, pushes (live: the stream)
  curl -s "{notification}/notifications?customer_id={customer}"
  curl -s "{email_push}/emails?to={email}"
  curl -s {email_push}/push/{customer}
  curl -N {email_push}/push/{customer}/stream                 # leave open, check out again in another terminal
"#,
        name = seed::CUSTOMERS[0].1,
        email = seed::CUSTOMERS[0].2,
        notification = url(Service::Notification),
        email_push = url(Service::EmailPush),
    );
    if catching_mail {
        println!(
            "Mail catcher: SMTP on 127.0.0.1:1025; what it caught: curl -s http://127.0.0.1:8025/messages\n"
        );
    }
    if let Some(host) = &pubsub.emulator_host {
        println!(
            "Inspect Pub/Sub on the emulator:\n  export CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=http://{host}/ CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true CLOUDSDK_CORE_PROJECT={}\n  gcloud pubsub topics list\n  gcloud pubsub subscriptions list\n",
            pubsub.project_id
        );
    }
    println!("Press Ctrl-C to stop.");
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    use cartflow::load;
    let url = |service: Service| format!("http://{}:{}", args.host, service.default_port());
    let target = load::Target {
        cart_url: url(Service::Cart),
        product_url: url(Service::Product),
        inventory_url: url(Service::Inventory),
        customer_url: url(Service::Customer),
        pubsub: args.target.pubsub(),
        database_url: Some(args.target.database_url.clone()),
    };
    let plan = load::Plan {
        levels: if args.knee {
            args.levels.clone()
        } else {
            vec![args.concurrency]
        },
        warmup: std::time::Duration::from_secs(args.warmup),
        duration: std::time::Duration::from_secs(args.duration),
        checkout_timeout: std::time::Duration::from_secs(args.timeout),
        p99_bound: args
            .knee
            .then(|| std::time::Duration::from_millis(args.p99_bound_ms)),
        customers_per_shopper: args.customers_per_shopper.max(1),
        products: args.products,
        progress: true,
        prefill_rows: args.prefill_rows,
    };
    let report = load::run(target, plan.clone()).await?;
    let label = args.label.clone().unwrap_or_else(|| {
        if args.knee {
            "knee".into()
        } else {
            format!("c{}", args.concurrency)
        }
    });
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json_path = args.out.join(format!("{label}.json"));
    let svg_path = args.out.join(format!("{label}.svg"));
    let document = serde_json::json!({
        "label": label,
        "plan": {
            "levels": plan.levels,
            "warmup_seconds": args.warmup,
            "duration_seconds": args.duration,
            "checkout_timeout_seconds": args.timeout,
            "p99_bound_ms": args.knee.then_some(args.p99_bound_ms),
            "customers_per_shopper": plan.customers_per_shopper,
            "products": plan.products,
        },
        "report": report,
    });
    std::fs::write(&json_path, serde_json::to_string_pretty(&document)? + "\n")?;
    let title = format!("cartflow load: {label}");
    std::fs::write(
        &svg_path,
        cartflow::load::plot::svg(&title, &report.seconds),
    )?;
    for level in &report.levels {
        println!("{}", serde_json::to_string_pretty(level)?);
    }
    if let Some(knee) = report.knee {
        println!(
            "knee: C = {knee} is the highest concurrency with p99 ≤ {} ms and no errors",
            args.p99_bound_ms
        );
    }
    println!(
        "results: {} and {}",
        json_path.display(),
        svg_path.display()
    );
    let errors: usize = report.levels.iter().map(|l| l.errors).sum();
    anyhow::ensure!(
        args.knee || errors == 0,
        "{errors} checkout(s) failed; see first_error in {}",
        json_path.display()
    );
    Ok(())
}

async fn stack(target: Target) -> anyhow::Result<()> {
    let settings = cartflow::stack::StackSettings {
        server_url: target.database_url.clone(),
        pubsub: target.pubsub(),
        // The services inherit this environment anyway; the stack reads it too
        // (`PUBSUB_DELIVERY=push` routes every subscription to its service).
        env: Env::from_process(),
    };
    let mut stack = cartflow::stack::Stack::start(&settings).await?;
    println!("cartflow stack is running, one process per service:");
    for (service, pid) in stack.pids() {
        println!(
            "  {:<13} http://127.0.0.1:{}  pid {}",
            service.name(),
            service.default_port(),
            pid.map_or("-".into(), |p| p.to_string())
        );
    }
    println!("Ctrl-C stops them all.");
    cartflow_kit::runtime::shutdown_on_signal()
        .cancelled()
        .await;
    stack.stop().await;
    Ok(())
}

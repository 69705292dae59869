//! The `cartflow` command line: one module per command, each with its arguments, its
//! `run` and its output; `main.rs` only parses and dispatches.

pub mod args;
pub mod asyncapi;
pub mod console;
pub mod dev;
pub mod dlq;
pub mod events;
pub mod load;
pub mod payments;
pub mod provision;
pub mod stack;
pub mod timeline;

use args::Target;
use cartflow_events::Service;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cartflow",
    version,
    about = "Run and operate cartflow, the event-driven order platform."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every service in this process on its SPEC port, with the topology provisioned
    /// and demo data loaded. Needs PostgreSQL and the Pub/Sub emulator (scripts/dev.sh
    /// starts both). Ctrl-C stops cleanly.
    Dev {
        #[command(flatten)]
        target: Target,
        /// Do not load the demo catalog.
        #[arg(long)]
        no_seed: bool,
        /// Address of the web console.
        #[arg(long, env = "CONSOLE_ADDR", default_value = "127.0.0.1:8080")]
        console: std::net::SocketAddr,
    },
    /// Serve the web console (live overview, topology, checkout explorer, dead
    /// letters, storefront) against a running stack: its services on their SPEC ports
    /// unless `--service-url` says otherwise. `cartflow dev` serves it too.
    Console(console::ConsoleArgs),
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
    Load(load::LoadArgs),
    /// Run one service in this process, configured from the environment like its own
    /// binary (`<service>-service`): e.g. `cartflow serve inventory`.
    Serve {
        /// order, product, inventory, notification, email-push, cart, customer or payment.
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
    /// Print the AsyncAPI 3.0 document of the topics, generated from the declared
    /// topology and the payload types: a channel per topic and dead-letter topic, who
    /// publishes and who subscribes, the message attributes, the payload schemas with an
    /// example each, and every subscription's dead-letter and retry policy.
    /// `docs/asyncapi.json` is this output; `scripts/check-infra.sh` fails when it is
    /// stale (`--check`).
    Asyncapi(asyncapi::AsyncapiArgs),
    /// Inspect and replay dead-lettered messages.
    #[command(subcommand)]
    Dlq(dlq::Dlq),
    /// Inspect and replay the event log: what each service published (its outbox) and
    /// the consumed events that failed and were never processed.
    #[command(subcommand)]
    Events(events::Events),
    /// Serve the payment gateway sandbox: Stripe's PaymentIntents subset (manual
    /// capture, refunds, lists) with test cards (pm_card_visa approves,
    /// pm_card_chargeDeclined declines, ...) and a ledger at /sandbox/ledger. `dev` and
    /// `stack` start one on 127.0.0.1:12111 unless PAYMENT_PROVIDER_URL is set.
    GatewaySandbox {
        /// Where to listen.
        #[arg(long, env = "SANDBOX_ADDR", default_value = "127.0.0.1:12111")]
        addr: std::net::SocketAddr,
        /// How long pm_card_slow keeps its first request waiting (ms): longer than the
        /// payment service's provider timeout, so its retry is exercised.
        #[arg(long, env = "SANDBOX_SLOW_MS", default_value_t = 3000)]
        slow_ms: u64,
    },
    /// Payments: reconcile the payment service's records with the provider's ledger.
    #[command(subcommand)]
    Payments(payments::Payments),
    /// Show a saga's timeline across every service: what each published, consumed and
    /// failed to consume, in time order. The correlation id of a checkout is its cart
    /// id; of a SKU's catalog changes, the SKU.
    Timeline(timeline::TimelineArgs),
}

impl Command {
    /// Runs the command (every one but `serve`, which has its own exit codes).
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Serve { service } => {
                anyhow::bail!("`serve {service}` runs through cartflow_platform::serve")
            }
            Command::Dev {
                target,
                no_seed,
                console,
            } => dev::run(target, !no_seed, console).await,
            Command::Console(args) => console::run(args).await,
            Command::Provision { target } => provision::run(target).await,
            Command::Teardown { target } => provision::teardown(target).await,
            Command::Topology => provision::topology(),
            Command::Asyncapi(args) => asyncapi::run(args),
            Command::Dlq(command) => dlq::run(command).await,
            Command::Events(command) => events::run(command).await,
            Command::Load(args) => load::run(args).await,
            Command::Stack { target } => stack::run(target).await,
            Command::Timeline(args) => timeline::run(args).await,
            Command::Payments(command) => payments::run(command).await,
            Command::GatewaySandbox { addr, slow_ms } => {
                payments::serve_sandbox(addr, slow_ms).await
            }
        }
    }
}

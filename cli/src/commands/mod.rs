//! The `cartflow` command line: one module per command, each with its arguments, its
//! `run` and its output; `main.rs` only parses and dispatches.

pub mod args;
pub mod asyncapi;
pub mod completions;
pub mod config_reference;
pub mod console;
pub mod dev;
pub mod dlq;
pub mod events;
pub mod exit;
pub mod load;
pub mod output;
pub mod payments;
pub mod provision;
pub mod seed;
pub mod stack;
pub mod timeline;

use args::Target;
use cartflow_events::Service;
use clap::{ArgAction, Parser, Subcommand};
use output::Output;

/// Every service's port, as help texts name them.
pub const PORTS: &str = "order 3000, product 3001, inventory 3002, notification 3003, \
                         email-push 3004, cart 3005, customer 3006, payment 3007";

fn top_level_help() -> String {
    format!(
        "Examples:
  source .work/dev.env                      # after scripts/dev.sh: the stack's settings and this binary
  cartflow dev                              # the whole platform in one process, console on :8080
  cartflow seed                             # demo customers and catalog on a running stack
  cartflow dlq list -o json                 # dead letters, for jq
  cartflow timeline <cart id>               # one checkout across every service
  cartflow completions bash > ~/.local/share/bash-completion/completions/cartflow

{}",
        exit::help_table()
    )
}

#[derive(Parser)]
#[command(
    name = "cartflow",
    version,
    about = "Run and operate cartflow, the event-driven order platform.",
    after_help = top_level_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only records and errors: no progress, notes or logs below error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log more: -v debug, -vv trace (overrides RUST_LOG).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole platform in this process, with demo data and the console.
    ///
    /// Every service runs on its port (order 3000, product 3001, inventory 3002,
    /// notification 3003, email-push 3004, cart 3005, customer 3006, payment 3007),
    /// with the topology provisioned and demo data loaded, the console on
    /// 127.0.0.1:8080, a mail catcher (SMTP 127.0.0.1:1025, view 127.0.0.1:8025) and
    /// the payment sandbox on 127.0.0.1:12111. Needs PostgreSQL and the Pub/Sub
    /// emulator (scripts/dev.sh starts both). Ctrl-C stops cleanly.
    #[command(after_help = "Examples:
  scripts/dev.sh                                   # starts PostgreSQL and the emulator, then this
  cartflow dev --emulator 127.0.0.1:8085 --database-url postgres://postgres@127.0.0.1:54329
  cartflow dev --no-seed --console-addr 127.0.0.1:8081
  cartflow dev --one-login --database-url postgres://me@db.internal:5432   # no roles created")]
    Dev {
        #[command(flatten)]
        target: Target,
        /// Do not load the demo customers and catalog.
        #[arg(long)]
        no_seed: bool,
        /// Address of the web console.
        #[arg(long, env = "CONSOLE_ADDR", default_value = "127.0.0.1:8080")]
        console_addr: std::net::SocketAddr,
        /// Every service signs in as --database-url's user. Without it each signs in
        /// as its own login, kept out of the other databases as in Cloud SQL, which
        /// needs a user that may create roles and psql (PostgreSQL's client).
        #[arg(long)]
        one_login: bool,
    },
    /// Serve the web console against a running stack.
    ///
    /// The console (live overview, topology, checkout explorer, dead letters,
    /// storefront) reaches the stack's services on their ports on 127.0.0.1 (order
    /// 3000 ... payment 3007) unless `--service-url` says otherwise. `cartflow dev`
    /// serves it too.
    #[command(after_help = "Examples:
  cartflow console                                  # on 127.0.0.1:8080, services on 127.0.0.1:3000-3007
  cartflow console --console-addr 127.0.0.1:8081 --service-url cart=http://10.0.0.5:3005
  CONSOLE_SERVICE_URLS=order=http://order:8080,cart=http://cart:8080 cartflow console")]
    Console(console::ConsoleArgs),
    /// Create every topic and subscription of the topology (idempotent) and list them.
    #[command(after_help = "Examples:
  cartflow provision --emulator 127.0.0.1:8085
  cartflow provision --topic-prefix scratch- -o json")]
    Provision {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        output: Output,
    },
    /// Run every service as its own process, as in production.
    ///
    /// Each runs as `cartflow serve <service>` on its port (order 3000 ... payment
    /// 3007) and signs in as its own PostgreSQL login (as in Cloud SQL): databases,
    /// logins and topology created, a mail catcher on 127.0.0.1:1025 unless SMTP_HOST
    /// is set. No demo data (run `cartflow seed`). Ctrl-C stops them all.
    /// scripts/bench.sh runs the benchmark against it.
    #[command(after_help = "Examples:
  cartflow stack --emulator 127.0.0.1:8085      # then, in another terminal: cartflow seed
  PUBSUB_DELIVERY=push cartflow stack           # Pub/Sub pushes to each service's /pubsub/push
  PUBSUB_DELIVERY=push cartflow stack --push-concurrency 16
                                                # the stack pushes, 16 in flight per subscription
  cartflow stack --one-login                    # every service as --database-url's user")]
    Stack {
        #[command(flatten)]
        target: Target,
        /// Every service signs in as --database-url's user. Without it each signs in
        /// as its own login, kept out of the other databases as in Cloud SQL, which
        /// needs a user that may create roles and psql (PostgreSQL's client).
        #[arg(long)]
        one_login: bool,
        /// With PUBSUB_DELIVERY=push: the stack pushes each subscription itself, with
        /// up to N requests in flight, instead of the emulator (which keeps two).
        /// Pub/Sub raises a push subscription's concurrency while pushes succeed; this
        /// measures push mode as it would run there.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
        push_concurrency: Option<u16>,
    },
    /// Load the demo customers and catalog into a running stack (idempotent).
    ///
    /// The customers (John Smith, Jane Doe, ...) and catalog (KB-101, MS-201, ..., the
    /// scarce LP-601) go through the services' HTTP APIs, as staff. What is already
    /// there is left as it is, and a second run says that nothing changed. Needs
    /// header sign-in (an emulator-backed stack).
    #[command(after_help = "Examples:
  cartflow seed                                     # services on 127.0.0.1:3006, :3001, :3002
  cartflow seed --service-url customer=http://customer:8080 --service-url product=http://product:8080 --service-url inventory=http://inventory:8080
  cartflow seed -o json                             # {\"created\":…,\"already_there\":…}")]
    Seed(seed::SeedArgs),
    /// Drive a running stack with virtual shoppers and report how it held up.
    ///
    /// Reports throughput, latency, errors, CPU and memory per process, and PostgreSQL commits (see BENCHMARKS.md).
    /// Each shopper adds two lines, converts, and waits for the outcome, which this
    /// command learns from its own Pub/Sub subscriptions. Writes <out>/<label>.json and
    /// an SVG plot. scripts/bench.sh starts a stack of separate processes and runs this.
    #[command(after_help = "Examples:
  cartflow load --concurrency 20 --duration 60
  cartflow load --knee --levels 5,10,20,50
  scripts/bench.sh                                  # starts a stack of processes and runs this")]
    Load(load::LoadArgs),
    /// Run one service in this process, like its own binary.
    ///
    /// Configured from the environment like its own binary (`<service>-service`): e.g. `cartflow serve inventory` (on 3002).
    #[command(after_help = "Examples:
  cartflow serve inventory                          # on 127.0.0.1:3002
  INVENTORY_PORT=4002 cartflow serve inventory

Exit codes: 0 stopped cleanly, 1 failed while running, 2 usage or configuration error.")]
    Serve {
        /// order, product, inventory, notification, email-push, cart, customer or payment.
        service: Service,
    },
    /// Delete every topic and subscription under a prefix (asks, or --yes).
    ///
    /// The prefix must not be empty: for cleaning up test and scratch topologies. Asks first on a terminal; elsewhere
    /// it needs --yes.
    #[command(after_help = "Examples:
  cartflow teardown --topic-prefix scratch-          # asks before deleting
  cartflow teardown --topic-prefix ci-1234- --yes    # in scripts")]
    Teardown {
        #[command(flatten)]
        target: Target,
        /// Delete without asking.
        #[arg(short, long)]
        yes: bool,
    },
    /// Print the Pub/Sub topology the code declares, as JSON.
    ///
    /// Services with the topics
    /// they publish and the subscriptions they consume, every topic, and every
    /// subscription with its dead-letter and retry policy. `terraform/topology.json` is
    /// this output (a test fails when they differ); `scripts/pubsub-topology.sh`
    /// compares it with a live emulator or project.
    #[command(after_help = "Examples:
  cartflow topology > terraform/topology.json
  cartflow topology | jq '.services[] | .name'")]
    Topology,
    /// Print the AsyncAPI 3.0 document of the topics.
    ///
    /// Generated from the declared topology and the payload types: a channel per topic and dead-letter topic, who
    /// publishes and who subscribes, the message attributes, the payload schemas with an
    /// example each, and every subscription's dead-letter and retry policy.
    /// `docs/asyncapi.json` is this output; `scripts/check-infra.sh` fails when it is
    /// stale (`--check`).
    #[command(after_help = "Examples:
  cartflow asyncapi                                  # print it
  cartflow asyncapi --out docs/asyncapi.json         # after changing a topic, payload or subscription
  cartflow asyncapi --check docs/asyncapi.json       # exit 5 when the copy is stale")]
    Asyncapi(asyncapi::AsyncapiArgs),
    /// Print every environment variable cartflow reads, with default and meaning.
    ///
    /// As Markdown or JSON; `docs/configuration.md` holds it between markers, and a
    /// test fails when it is stale.
    #[command(after_help = "Examples:
  cartflow config-reference                                  # the Markdown table
  cartflow config-reference -o json | jq '.[].names[]'
  cartflow config-reference --write docs/configuration.md    # refresh the page between its markers
  cartflow config-reference --check docs/configuration.md    # exit 5 when the page is stale")]
    ConfigReference(config_reference::ConfigReferenceArgs),
    /// Print a shell completion script for bash, zsh, fish, elvish or powershell.
    #[command(after_help = "Examples:
  cartflow completions bash > ~/.local/share/bash-completion/completions/cartflow
  cartflow completions zsh > \"${fpath[1]}/_cartflow\"
  cartflow completions fish > ~/.config/fish/completions/cartflow.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Inspect and replay dead-lettered messages.
    #[command(subcommand)]
    Dlq(dlq::Dlq),
    /// Inspect and replay the event log.
    ///
    /// What each service published (its outbox) and
    /// the consumed events that failed and were never processed.
    #[command(subcommand)]
    Events(events::Events),
    /// Serve the payment gateway sandbox on 127.0.0.1:12111.
    ///
    /// Stripe's PaymentIntents subset (manual
    /// capture, refunds, lists) with test cards (pm_card_visa approves,
    /// pm_card_chargeDeclined declines, ...) and a ledger at /sandbox/ledger. `dev` and
    /// `stack` start one on 127.0.0.1:12111 unless PAYMENT_PROVIDER_URL is set.
    #[command(after_help = "Examples:
  cartflow gateway-sandbox                            # on 127.0.0.1:12111
  curl -s http://127.0.0.1:12111/sandbox/ledger")]
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
    /// Show a saga's timeline across every service.
    ///
    /// What each published, consumed and
    /// failed to consume, in time order. The correlation id of a checkout is its cart
    /// id; of a SKU's catalog changes, the SKU. Exits 4 when nothing was recorded.
    #[command(after_help = "Examples:
  cartflow timeline 0b6f3c7e-8d0a-4f0e-9a43-2c1d5e6f7a8b
  cartflow timeline KB-101 -o json")]
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
                console_addr,
                one_login,
            } => dev::run(target, !no_seed, console_addr, !one_login).await,
            Command::Console(args) => console::run(args).await,
            Command::Provision { target, output } => provision::run(target, output).await,
            Command::Seed(args) => seed::run(args).await,
            Command::Teardown { target, yes } => provision::teardown(target, yes).await,
            Command::Topology => provision::topology(),
            Command::Asyncapi(args) => asyncapi::run(args),
            Command::ConfigReference(args) => config_reference::run(args),
            Command::Completions { shell } => completions::print(shell),
            Command::Dlq(command) => dlq::run(command).await,
            Command::Events(command) => events::run(command).await,
            Command::Load(args) => load::run(args).await,
            Command::Stack {
                target,
                one_login,
                push_concurrency,
            } => stack::run(target, !one_login, push_concurrency.map(usize::from)).await,
            Command::Timeline(args) => timeline::run(args).await,
            Command::Payments(command) => payments::run(command).await,
            Command::GatewaySandbox { addr, slow_ms } => {
                payments::serve_sandbox(addr, slow_ms).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;
    use std::collections::BTreeMap;

    /// Every command below `cartflow`, with its path (`dlq list`).
    fn leaves() -> Vec<(String, clap::Command)> {
        fn walk(prefix: &str, command: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            for sub in command.get_subcommands() {
                let path = format!("{prefix}{}", sub.get_name()).trim().to_string();
                if sub.has_subcommands() {
                    walk(&format!("{path} "), sub, out);
                } else {
                    out.push((path, sub.clone()));
                }
            }
        }
        let mut out = Vec::new();
        walk("", &Cli::command(), &mut out);
        out
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_shows_examples_in_its_help() {
        let missing: Vec<String> = leaves()
            .into_iter()
            .filter(|(_, c)| {
                !c.get_after_help()
                    .is_some_and(|h| h.to_string().contains("Examples:\n  "))
            })
            .map(|(path, _)| path)
            .collect();
        assert!(missing.is_empty(), "no examples in --help of: {missing:?}");
    }

    /// One setting, one flag: an environment variable is read through the same long
    /// flag by every command that takes it.
    #[test]
    fn every_environment_variable_has_one_flag_name() {
        let mut flags: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for (_, command) in leaves() {
            for arg in command.get_arguments() {
                if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
                    flags
                        .entry(env.to_string_lossy().into_owned())
                        .or_default()
                        .insert(long.to_string());
                }
            }
        }
        let doubled: Vec<_> = flags.iter().filter(|(_, f)| f.len() > 1).collect();
        assert!(
            doubled.is_empty(),
            "one setting, several flags: {doubled:?}"
        );
        // And every variable a flag reads is in the configuration reference.
        for env in flags.keys() {
            assert!(
                crate::config_reference::names().any(|n| n == env),
                "{env} is read by a flag but not in the configuration reference"
            );
        }
    }

    /// Help texts name real ports, not "the SPEC port".
    #[test]
    fn help_texts_name_real_ports() {
        for (path, mut command) in leaves() {
            let help = command.render_long_help().to_string();
            assert!(!help.contains("SPEC"), "`{path} --help` says SPEC: {help}");
        }
        for path in ["dev", "console"] {
            let (_, mut command) = leaves().into_iter().find(|(p, _)| p == path).unwrap();
            let help = command.render_long_help().to_string();
            for service in cartflow_events::Service::ALL {
                let port = service.default_port().to_string();
                assert!(help.contains(&port), "`{path} --help` does not name {port}");
            }
        }
    }
}

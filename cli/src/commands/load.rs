//! `cartflow load`: virtual shoppers against a running stack.

use super::args::Target;
use crate::load;
use cartflow_events::Service;
use clap::Args;

#[derive(Args)]
pub struct LoadArgs {
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
    /// Every this many checkouts one pays with a declining test card
    /// (pm_card_chargeDeclined); 0: every checkout pays with pm_card_visa. A declined
    /// checkout ends payment_declined and is counted as rejected.
    #[arg(long, default_value_t = 0)]
    decline_every: usize,
    /// Host the services listen on, each on its own port (cart 3005, product 3001,
    /// inventory 3002, customer 3006, ...).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Before the run, add this many rows to every service's inbox and outbox, half of
    /// them past the retention windows: shows whether checkouts slow down as the tables
    /// grow, with retention removing the aged half meanwhile.
    #[arg(long, default_value_t = 0)]
    prefill_rows: u64,
    /// With --prefill-rows: instead of 30 days old, the aged half crosses the retention
    /// windows during the next this many seconds, so retention removes rows at a
    /// steady rate all through the run (a steady-state soak) rather than in one catch-up.
    #[arg(long)]
    prefill_crossing_secs: Option<u64>,
    /// Measure without first analyzing the services' databases at the end of the
    /// warm-up (by default they are analyzed, as autovacuum would have done in a
    /// deployment that has run for a minute: on tables created seconds before, the
    /// services' cached plans scan whole tables for look-ups by key).
    #[arg(long)]
    no_analyze: bool,
    /// Where to write <label>.json and <label>.svg.
    #[arg(long, default_value = ".work/bench")]
    out: std::path::PathBuf,
    /// Name of the result files (default: c<concurrency>, or knee).
    #[arg(long)]
    label: Option<String>,
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let url = |service: Service| format!("http://{}:{}", args.host, service.default_port());
    let target = load::Target {
        cart_url: url(Service::Cart),
        product_url: url(Service::Product),
        inventory_url: url(Service::Inventory),
        customer_url: url(Service::Customer),
        pubsub: args.target.pubsub(),
        database_url: Some(args.target.database_url().to_string()),
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
        decline_every: args.decline_every,
        progress: true,
        prefill_rows: args.prefill_rows,
        prefill_crossing: args
            .prefill_crossing_secs
            .map(std::time::Duration::from_secs),
        analyze_after_warmup: !args.no_analyze,
    };
    let report = load::run(target, plan.clone()).await?;
    let label = args.label.clone().unwrap_or_else(|| {
        if args.knee {
            "knee".into()
        } else {
            format!("c{}", args.concurrency)
        }
    });
    let (json_path, svg_path) = load::results::write(&args.out, &label, &plan, &report)?;
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

//! `cartflow seed`: the demo customers and catalog on any running stack, through the
//! services' HTTP APIs (`crate::seed`), as `cartflow dev` loads them.

use super::args::ServiceUrls;
use super::output::Output;
use crate::seed::{self, SeedReport};
use cartflow_events::Service;
use clap::Args;
use serde::Serialize;

#[derive(Args)]
pub struct SeedArgs {
    // Where customer, product and inventory answer (default 127.0.0.1:3006, :3001, :3002).
    #[command(flatten)]
    pub services: ServiceUrls,
    #[command(flatten)]
    pub output: Output,
}

/// What a run did: `changed` is false when everything was already there.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SeedSummary {
    pub customers: Counts,
    /// Products and their stock items.
    pub catalog: Counts,
    pub changed: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub already_there: usize,
}

impl From<SeedReport> for Counts {
    fn from(r: SeedReport) -> Self {
        Counts {
            created: r.created,
            already_there: r.already_there,
        }
    }
}

pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let url = |s| args.services.url(s);
    let customers: Counts = seed::seed_customers(&url(Service::Customer)).await?.into();
    let catalog: Counts = seed::seed_catalog(&url(Service::Product), &url(Service::Inventory))
        .await?
        .into();
    let changed = customers.created + catalog.created > 0;
    let summary = SeedSummary {
        customers,
        catalog,
        changed,
    };
    if args.output.json() {
        return Output::print_json(&summary);
    }
    println!("{}", render(&summary));
    Ok(())
}

/// One line for people: what was created, or that nothing changed.
pub fn render(s: &SeedSummary) -> String {
    let (c, k) = (&s.customers, &s.catalog);
    if s.changed {
        format!(
            "seeded: {} customer(s) and {} catalog record(s) created; {} already there",
            c.created,
            k.created,
            c.already_there + k.already_there
        )
    } else {
        format!(
            "nothing changed: the {} demo customers and {} catalog records (products and stock) were already there",
            c.already_there, k.already_there
        )
    }
}

//! The catalog and customers a load run needs, created unless present.

use super::Target;
use crate::seed::post_unless_present;
use serde_json::json;
use uuid::Uuid;

/// Products with practically endless stock, created unless present.
pub(super) async fn setup_products(
    http: &reqwest::Client,
    target: &Target,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(count >= 2, "at least two products are needed");
    let skus: Vec<String> = (1..=count).map(|n| format!("BENCH-{n:04}")).collect();
    for sku in &skus {
        let product =
            json!({ "sku": sku, "name": format!("Benchmark item {sku}"), "price_cents": 1000 });
        post_unless_present(http, &format!("{}/products", target.product_url), product).await?;
        let stock = json!({ "sku": sku, "quantity": 1_000_000_000, "low_stock_threshold": 0 });
        post_unless_present(http, &format!("{}/inventory", target.inventory_url), stock).await?;
    }
    Ok(skus)
}

pub(super) async fn setup_customers(
    http: &reqwest::Client,
    target: &Target,
    run_id: &str,
    count: usize,
    progress: bool,
) -> anyhow::Result<Vec<Uuid>> {
    if progress {
        eprintln!("creating {count} customers");
    }
    let mut customers = Vec::with_capacity(count);
    for n in 0..count {
        let id = Uuid::new_v4();
        let body = json!({ "id": id, "name": format!("Shopper {n}"), "email": format!("shopper-{run_id}-{n}@bench.cartflow.test") });
        post_unless_present(http, &format!("{}/customers", target.customer_url), body).await?;
        customers.push(id);
    }
    Ok(customers)
}

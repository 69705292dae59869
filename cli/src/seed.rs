//! Demo data, loaded through the public REST APIs like any client would.

use anyhow::Context;
use serde_json::json;

/// The demo customers (SPEC). Their ids go in `X-Customer-Id`.
pub const CUSTOMERS: [(&str, &str, &str); 5] = [
    (
        "550e8400-e29b-41d4-a716-446655440000",
        "John Smith",
        "john.smith@example.com",
    ),
    (
        "550e8400-e29b-41d4-a716-446655440001",
        "Jane Doe",
        "jane.doe@example.com",
    ),
    (
        "550e8400-e29b-41d4-a716-446655440002",
        "Robert Johnson",
        "robert.johnson@example.com",
    ),
    (
        "550e8400-e29b-41d4-a716-446655440003",
        "Emily Davis",
        "emily.davis@example.com",
    ),
    (
        "550e8400-e29b-41d4-a716-446655440004",
        "Michael Wilson",
        "michael.wilson@example.com",
    ),
];

/// (sku, name, price in cents, units in stock). The lamp is scarce on purpose: it
/// shows a checkout ending in `stock_unavailable`.
pub const CATALOG: [(&str, &str, i64, i32); 6] = [
    ("KB-101", "Mechanical Keyboard", 8999, 50),
    ("MS-201", "Wireless Mouse", 2999, 100),
    ("MN-301", "27-inch Monitor", 27999, 20),
    ("HP-401", "Noise-Cancelling Headphones", 19999, 15),
    ("CB-501", "USB-C Cable", 999, 500),
    ("LP-601", "Limited Edition Desk Lamp", 4999, 2),
];

#[derive(Debug, Default)]
pub struct SeedReport {
    pub created: usize,
    pub already_there: usize,
}

/// Creates the demo customers with their SPEC ids unless present. Safe to run again.
pub async fn seed_customers(customer_url: &str) -> anyhow::Result<SeedReport> {
    let mut seeder = Seeder::default();
    for (id, name, email) in CUSTOMERS {
        let body = json!({ "id": id, "name": name, "email": email });
        seeder
            .create(&format!("{customer_url}/customers"), body)
            .await?;
    }
    Ok(seeder.report)
}

/// Creates the catalog and its stock unless present. Safe to run again.
pub async fn seed_catalog(product_url: &str, inventory_url: &str) -> anyhow::Result<SeedReport> {
    let mut seeder = Seeder::default();
    for (sku, name, price_cents, stock) in CATALOG {
        let product = json!({ "sku": sku, "name": name, "price_cents": price_cents });
        seeder
            .create(&format!("{product_url}/products"), product)
            .await?;
        let item = json!({ "sku": sku, "quantity": stock, "low_stock_threshold": 3 });
        seeder
            .create(&format!("{inventory_url}/inventory"), item)
            .await?;
    }
    Ok(seeder.report)
}

#[derive(Default)]
struct Seeder {
    http: reqwest::Client,
    report: SeedReport,
}

impl Seeder {
    async fn create(&mut self, url: &str, body: serde_json::Value) -> anyhow::Result<()> {
        if post_unless_present(&self.http, url, body).await? {
            self.report.created += 1;
        } else {
            self.report.already_there += 1;
        }
        Ok(())
    }
}

/// POSTs `body` to a create route as staff (the development header): true if created
/// (201), false if already there (409); any other answer is an error that quotes it.
pub async fn post_unless_present(
    http: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
) -> anyhow::Result<bool> {
    let response = cartflow_client::as_staff(http.post(url))
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    match response.status().as_u16() {
        201 => Ok(true),
        409 => Ok(false),
        status => anyhow::bail!(
            "POST {url} answered {status}: {}",
            response.text().await.unwrap_or_default()
        ),
    }
}

//! Inventory's handler on a database of its own (the per-service layer: no Pub/Sub, no
//! other service). Each checkout is decided once, whatever arrives, in whatever order.
//!
//! This file holds the handler under test and the events it is fed; the tests are in
//! `checkouts` (one checkout's request, expiry, decline and re-sends) and `batches`
//! (several requests applied as one batch).

mod batches;
mod checkouts;

use cartflow_events::{CheckoutExpired, LineItem, OrderCancelled, OrderRequested};
use cartflow_testkit::HandlerHarness;
use inventory_service::InventoryApp;
use inventory_service::handlers::InventoryHandler;
use std::sync::Arc;
use uuid::Uuid;

async fn inventory(stock: &[(&str, i32)]) -> HandlerHarness {
    let harness = HandlerHarness::new::<InventoryApp>(Arc::new(InventoryHandler)).await;
    for (sku, available) in stock {
        sqlx::query("INSERT INTO stock_items (sku, available) VALUES ($1, $2)")
            .bind(sku)
            .bind(available)
            .execute(harness.pool())
            .await
            .unwrap();
    }
    harness
}

async fn levels(harness: &HandlerHarness, sku: &str) -> (i32, i32) {
    sqlx::query_as("SELECT available, reserved FROM stock_items WHERE sku = $1")
        .bind(sku)
        .fetch_one(harness.pool())
        .await
        .unwrap()
}

fn request(sku: &str, quantity: i32) -> OrderRequested {
    request_of(&[(sku, quantity)])
}

/// A checkout's request for these lines: (SKU, quantity).
fn request_of(lines: &[(&str, i32)]) -> OrderRequested {
    OrderRequested {
        cart_id: Uuid::new_v4(),
        checkout_id: Some(Uuid::new_v4()),
        expires_at: None,
        customer_id: Uuid::new_v4(),
        items: lines
            .iter()
            .map(|&(sku, quantity)| LineItem {
                product_sku: cartflow_events::Sku::parse(sku).unwrap(),
                quantity,
                unit_price_cents: 100,
            })
            .collect(),
        payment_method: Some("pm_card_visa".into()),
        shipping_address: None,
    }
}

fn expired(request: &OrderRequested) -> CheckoutExpired {
    CheckoutExpired {
        checkout_id: request.checkout_id.unwrap(),
        cart_id: request.cart_id,
        customer_id: request.customer_id,
        items: request.items.clone(),
    }
}

fn cancelled(request: &OrderRequested) -> OrderCancelled {
    OrderCancelled {
        order_id: Uuid::new_v4(),
        cart_id: request.cart_id,
        checkout_id: request.checkout_id,
        customer_id: request.customer_id,
        items: request.items.clone(),
        reason: "test".into(),
    }
}

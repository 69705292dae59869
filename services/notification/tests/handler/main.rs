//! Notification's handler on a database of its own (the per-service layer): the contact
//! copy follows the newest customer event whatever the delivery order, and a customer
//! is told once per fact however often it is announced.
//!
//! This file holds the handler under test and the events it is fed; the tests are in
//! `telling` (contacts, notifications and their delivery results) and `webhooks`
//! (webhook deliveries queued as events are consumed, and their retention).

mod telling;
mod webhooks;

use cartflow_events::{CustomerDetails, LineItem, OrderCreated};
use cartflow_testkit::HandlerHarness;
use notification_service::handlers::NotificationHandler;
use notification_service::{NotificationApp, Settings};
use std::sync::Arc;
use uuid::Uuid;

async fn notification() -> HandlerHarness {
    let handler = NotificationHandler {
        settings: Settings {
            stock_manager_email: "stock@example.com".into(),
        },
    };
    HandlerHarness::new::<NotificationApp>(Arc::new(handler)).await
}

fn details(customer_id: Uuid, email: &str) -> CustomerDetails {
    CustomerDetails {
        customer_id,
        name: "Ann".into(),
        email: email.into(),
        phone: None,
        address: None,
    }
}

/// A new order of one line for `customer_id`.
fn order(customer_id: Uuid) -> OrderCreated {
    OrderCreated {
        order_id: Uuid::new_v4(),
        cart_id: Uuid::new_v4(),
        checkout_id: Some(Uuid::new_v4()),
        customer_id,
        items: vec![LineItem {
            product_sku: cartflow_events::Sku::parse("A").unwrap(),
            quantity: 1,
            unit_price_cents: 500,
        }],
        total_cents: 500,
        shipping_address: None,
    }
}

/// Where an email to `customer_id` would go now.
async fn email_on_file(notification: &HandlerHarness, customer_id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT email FROM contacts WHERE customer_id = $1 AND NOT deleted")
        .bind(customer_id)
        .fetch_optional(notification.pool())
        .await
        .unwrap()
        .flatten()
}

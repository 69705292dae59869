//! Every checkout ends: past `CHECKOUT_EXPIRE_MS` the cart asks order (the arbiter) to
//! give the checkout up. Either the order exists and the checkout converts, or order
//! records the checkout expired and announces it: the cart unlocks, the customer is
//! told once, and inventory releases (or never makes) the checkout's reservation.
//!
//! The tests are in `down` (inventory or order down past the expiry) and `race` (an
//! expiry racing the order's creation).

mod down;
mod race;

use crate::helpers::{TestApp, eventually};
use cartflow_events::Service;
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

/// Re-sends every 300 ms, gives up after 1.5 s.
const EXPIRE: Duration = Duration::from_millis(1500);
const QUICK_EXPIRY: &[(&str, &str)] = &[
    ("CHECKOUT_DEADLINE_MS", "300"),
    ("CHECKOUT_WATCH_MS", "100"),
    ("CHECKOUT_EXPIRE_MS", "1500"),
];

async fn cart_json(app: &TestApp, customer: Uuid) -> Value {
    app.cart(customer).await.json().await.unwrap()
}

/// (email, push) notifications of `kind` for `customer` that were sent.
async fn told(app: &TestApp, customer: Uuid, kind: &str) -> (i64, i64) {
    let sent = |channel: &'static str| {
        format!(
            "SELECT count(*) FROM notifications WHERE customer_id = '{customer}'
             AND kind = '{kind}' AND channel = '{channel}' AND status = 'sent'"
        )
    };
    (
        app.count(Service::Notification, &sent("email")).await,
        app.count(Service::Notification, &sent("push")).await,
    )
}

/// Waits until `service` has consumed every event of `topic` that `publisher` wrote
/// (there may be none).
async fn backlog_consumed(app: &TestApp, publisher: Service, service: Service, topic: &str) {
    let published = format!("SELECT count(*) FROM outbox WHERE topic = '{topic}'");
    let consumed = format!("SELECT count(*) FROM processed_messages WHERE event_type = '{topic}'");
    eventually(&format!("{service} to consume every {topic}"), || async {
        let published = app.count(publisher, &published).await;
        (app.count(service, &consumed).await >= published).then_some(())
    })
    .await;
}

async fn held_reservations(app: &TestApp) -> i64 {
    app.count(
        Service::Inventory,
        "SELECT count(*) FROM reservations WHERE status = 'reserved'",
    )
    .await
}

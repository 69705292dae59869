//! The saga timeline an operator sees: every service's outbox, inbox and failure log
//! for one correlation id, in causal order.

use crate::helpers::{eventually, spawn_app};
use cartflow::timeline;
use reqwest::StatusCode;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_timeline_shows_the_saga_in_order_across_services() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = app.create_customer("Tim", "tim@example.com").await;
    app.wait_for_contact(customer, "tim@example.com").await;
    app.add(customer, "KB-1", 1).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app.settled_cart(customer).await;
    let cart_id = &cart.id.to_string();
    let settings = &app.infra.settings;

    // Wait for the tail of the saga: the email-push results reaching notification.
    let entries = eventually("the whole saga recorded", || async {
        let entries = timeline::collect(&settings.server_url, &settings.database_prefix, cart_id)
            .await
            .unwrap();
        let results = entries
            .iter()
            .filter(|e| e.what == "consumed" && e.event_type == "delivery.result")
            .count();
        // Both channels of the confirmation and of the receipt.
        (results == 4).then_some(entries)
    })
    .await;
    let position = |service: &str, what: &str, event_type: &str| {
        entries
            .iter()
            .position(|e| e.service == service && e.what == what && e.event_type == event_type)
            .unwrap_or_else(|| panic!("no {service} {what} {event_type} in {entries:#?}"))
    };
    let saga = [
        position("cart", "published", "order-requested"),
        position("inventory", "consumed", "order-requested"),
        position("inventory", "published", "stock-available"),
        position("payment", "consumed", "stock-available"),
        position("payment", "published", "payment.authorized"),
        position("order", "consumed", "payment.authorized"),
        position("order", "published", "order.created"),
        position("notification", "consumed", "order.created"),
        position("notification", "published", "delivery.requested"),
        position("email-push", "consumed", "delivery.requested"),
        position("email-push", "published", "delivery.result"),
        position("notification", "consumed", "delivery.result"),
    ];
    assert!(
        saga.windows(2).all(|w| w[0] < w[1]),
        "out of order: {saga:?}\n{entries:#?}"
    );
    assert!(position("cart", "consumed", "order.created") > saga[6]);
    assert!(
        position("payment", "published", "payment.captured")
            > position("payment", "consumed", "order.created")
    );
    assert!(entries.iter().all(|e| e.what != "failed"), "{entries:#?}");
    assert!(entries.windows(2).all(|w| w[0].at <= w[1].at));
    // Another saga's id shows nothing of this one.
    let other = timeline::collect(
        &settings.server_url,
        &settings.database_prefix,
        &Uuid::new_v4().to_string(),
    )
    .await
    .unwrap();
    assert!(other.is_empty());
    app.stop().await;
}

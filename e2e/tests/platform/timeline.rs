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
        // The confirmation's and the receipt's: each email's result carries the push
        // its request delivered beside it.
        (results == 2).then_some(entries)
    })
    .await;
    let position = |service: &str, what: &str, event_type: &str| {
        entries
            .iter()
            .position(|e| e.service == service && e.what == what && e.event_type == event_type)
            .unwrap_or_else(|| panic!("no {service} {what} {event_type} in {entries:#?}"))
    };
    // The tail follows one message by its ids: notification also sends a receipt
    // (caused by payment.captured, another subscription, which may come first), so
    // "the first delivery.requested" need not be the confirmation's.
    let id_of = |i: usize| entries[i].event_id.expect("an event id");
    let consumed = |service: &str, event_id: Uuid| {
        entries
            .iter()
            .position(|e| {
                e.service == service && e.what == "consumed" && e.event_id == Some(event_id)
            })
            .unwrap_or_else(|| panic!("{service} never consumed {event_id}: {entries:#?}"))
    };
    let caused_by = |service: &str, event_type: &str, cause: Uuid| {
        entries
            .iter()
            .position(|e| {
                e.service == service
                    && e.what == "published"
                    && e.event_type == event_type
                    && e.message.as_ref().is_some_and(|m| {
                        m.attributes["causation_id"].as_str() == Some(cause.to_string().as_str())
                    })
            })
            .unwrap_or_else(|| {
                panic!("no {event_type} of {service} caused by {cause}: {entries:#?}")
            })
    };
    let order_created = position("order", "published", "order.created");
    let confirmation_consumed = consumed("notification", id_of(order_created));
    let confirmation = caused_by("notification", "delivery.requested", id_of(order_created));
    let delivered = consumed("email-push", id_of(confirmation));
    let result = caused_by("email-push", "delivery.result", id_of(confirmation));
    // Inventory and payment answer the request side by side, and order makes the order
    // once it holds both. The times are each transaction's start: the consumption that
    // completes the pair can start before the other answer's consumption, which it then
    // waits for under the checkout's lock, so only the answers' publications are
    // ordered before the order's.
    let requested = position("cart", "published", "order-requested");
    let branches = [
        [
            requested,
            position("inventory", "consumed", "order-requested"),
            position("inventory", "published", "stock-available"),
            position("order", "consumed", "stock-available"),
        ],
        [
            requested,
            position("payment", "consumed", "order-requested"),
            position("payment", "published", "payment.authorized"),
            position("order", "consumed", "payment.authorized"),
        ],
    ];
    for branch in branches {
        assert!(
            branch.windows(2).all(|w| w[0] < w[1]) && branch[2] < order_created,
            "out of order: {branch:?} (order.created at {order_created})\n{entries:#?}"
        );
    }
    let saga = [
        order_created,
        confirmation_consumed,
        confirmation,
        delivered,
        result,
        consumed("notification", id_of(result)),
    ];
    assert!(
        saga.windows(2).all(|w| w[0] < w[1]),
        "out of order: {saga:?}\n{entries:#?}"
    );
    assert!(position("cart", "consumed", "order.created") > order_created);
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

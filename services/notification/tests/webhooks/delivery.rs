//! Delivery: every subscribed event reaches each endpoint once, signed, and nothing an
//! endpoint did not subscribe to.

use super::{ALL, Notification, line, order_created, status_changed};
use cartflow_events::{
    LowStock, OrderCancelled, OrderDelivered, OrderShipped, PaymentCaptured, PaymentRefunded,
    ProductChanged, Sku,
};
use cartflow_testkit::eventually;
use cartflow_testkit::webhook_receiver::{Behaviour, Receiver};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// Every event type, each published twice (the same event id, as a relay that crashed
/// after publishing sends it again), reaches each endpoint subscribed to it once,
/// signed, with its payload, `type`, `id` and `timestamp`; an endpoint hears nothing it
/// did not subscribe to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscribed_event_reaches_each_endpoint_once_signed() {
    let notification = Notification::start(&[]).await;
    let (everything, orders) = (
        Receiver::start(Behaviour::Ok).await,
        Receiver::start(Behaviour::Ok).await,
    );
    notification.subscribe(&everything, &ALL).await;
    notification
        .subscribe(
            &orders,
            &[
                "order.created",
                "order.cancelled",
                "order.shipped",
                "order.delivered",
            ],
        )
        .await;

    let created = order_created();
    let now = Utc::now();
    let mut published: HashMap<Uuid, &str> = HashMap::new();
    let mut publish = |id: Uuid, kind: &'static str| {
        published.insert(id, kind);
    };
    publish(
        notification.publish(&created, now, 2).await,
        "order.created",
    );
    let cancelled = OrderCancelled {
        order_id: created.order_id,
        cart_id: created.cart_id,
        checkout_id: created.checkout_id,
        customer_id: created.customer_id,
        items: vec![line()],
        reason: "changed my mind".into(),
    };
    publish(
        notification.publish(&cancelled, now, 2).await,
        "order.cancelled",
    );
    publish(
        notification
            .publish(&OrderShipped(status_changed("shipped")), now, 2)
            .await,
        "order.shipped",
    );
    publish(
        notification
            .publish(&OrderDelivered(status_changed("delivered")), now, 2)
            .await,
        "order.delivered",
    );
    let payment = |amount_cents| {
        (
            Uuid::new_v4(),
            created.order_id,
            Uuid::new_v4(),
            created.customer_id,
            amount_cents,
        )
    };
    let (payment_id, order_id, checkout_id, customer_id, amount_cents) = payment(2500);
    publish(
        notification
            .publish(
                &PaymentCaptured {
                    payment_id,
                    order_id,
                    checkout_id,
                    customer_id,
                    amount_cents,
                    card: None,
                },
                now,
                2,
            )
            .await,
        "payment.captured",
    );
    publish(
        notification
            .publish(
                &PaymentRefunded {
                    payment_id,
                    order_id,
                    checkout_id,
                    customer_id,
                    amount_cents,
                },
                now,
                2,
            )
            .await,
        "payment.refunded",
    );
    publish(
        notification
            .publish(
                &LowStock {
                    product_sku: Sku::parse("KB-1").unwrap(),
                    available: 2,
                    threshold: 3,
                },
                now,
                2,
            )
            .await,
        "inventory.low-stock",
    );
    publish(
        notification
            .publish(
                &ProductChanged {
                    sku: Sku::parse("KB-1").unwrap(),
                    name: "Keyboard".into(),
                    price_cents: 1250,
                    active: true,
                    version: 7,
                },
                now,
                2,
            )
            .await,
        "product.changed",
    );

    let got = everything.has(8).await;
    orders.has(4).await;
    let mut expected: Vec<String> = published.keys().map(Uuid::to_string).collect();
    expected.sort();
    assert_eq!(everything.ids(), expected);
    let mut expected_orders: Vec<String> = published
        .iter()
        .filter(|(_, kind)| kind.starts_with("order."))
        .map(|(id, _)| id.to_string())
        .collect();
    expected_orders.sort();
    assert_eq!(orders.ids(), expected_orders);
    for message in &got {
        let id: Uuid = message.id.parse().unwrap();
        assert_eq!(
            message.body["id"],
            message.id.as_str(),
            "webhook-id is the event id"
        );
        assert_eq!(message.body["type"], published[&id]);
        assert!(DateTime::parse_from_rfc3339(message.body["timestamp"].as_str().unwrap()).is_ok());
        assert_eq!(
            message.signatures,
            vec![Some(0)],
            "one signature, by the endpoint's secret"
        );
    }
    let order = got
        .iter()
        .find(|m| m.body["type"] == "order.created")
        .unwrap();
    assert_eq!(order.body["order_id"], created.order_id.to_string());
    assert_eq!(order.body["total_cents"], 2500);
    let product = got
        .iter()
        .find(|m| m.body["type"] == "product.changed")
        .unwrap();
    assert_eq!(product.body["sku"], "KB-1");

    // Every duplicate message was consumed (and skipped) before anything more could
    // have been sent: the inbox saw both copies of each event.
    let pool = notification.service.as_ref().unwrap().pool.clone();
    eventually("both copies of every event consumed", || async {
        let duplicates: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(duplicate_deliveries), 0)::bigint FROM processed_messages WHERE event_id = ANY($1)",
        )
        .bind(published.keys().copied().collect::<Vec<_>>())
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
        (duplicates >= 8).then_some(())
    })
    .await;
    // Counted by outcome, and timed.
    let metrics_url = format!("{}/metrics", notification.url);
    eventually("twelve deliveries counted", || async {
        let text = notification
            .http
            .get(&metrics_url)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let delivered: f64 = text
            .lines()
            .find(|l| {
                l.starts_with("cartflow_webhook_deliveries_total{")
                    && l.contains("outcome=\"delivered\"")
            })?
            .rsplit(' ')
            .next()?
            .parse()
            .ok()?;
        let timed = text
            .lines()
            .any(|l| l.starts_with("cartflow_webhook_call_duration_seconds_count"));
        (delivered == 12.0 && timed).then_some(())
    })
    .await;
    for receiver in [&everything, &orders] {
        let inbox = receiver.inbox.lock().unwrap();
        assert_eq!((inbox.copies, inbox.forged), (0, 0), "{}", receiver.url);
    }
    notification.stop().await;
}

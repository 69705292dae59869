//! Webhook deliveries as the handler sees them: queued in the consuming transaction once
//! per subscribed endpoint, and removed with their attempts past their retention.

use super::{notification, order};
use cartflow_events::OrderCreated;
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::envelope_for;
use uuid::Uuid;

/// Webhooks are queued by the consume path itself, in the transaction that records
/// the event: once per endpoint subscribed to its type, whether the event is applied
/// alone or with its batch, and never again for a redelivery.
#[tokio::test]
async fn webhooks_are_queued_in_the_consuming_transaction_once_per_subscribed_endpoint() {
    let notification = notification().await;
    let pool = notification.pool();
    for (events, url) in [
        (
            vec!["order.created", "product.changed"],
            "https://a.example/hook",
        ),
        (vec!["order.cancelled"], "https://b.example/hook"),
    ] {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, events, status, secret)
             VALUES ($1, $2, $3, 'active', 'whsec_AAAA')",
        )
        .bind(Uuid::new_v4())
        .bind(url)
        .bind(events)
        .execute(pool)
        .await
        .unwrap();
    }
    // Alone (a batch of one), then twice as the same message (the inbox skips the copy).
    let alone = envelope_for::<OrderCreated>(Uuid::new_v4());
    let first = order(Uuid::new_v4());
    for _ in 0..2 {
        notification.deliver_as(&alone, &first).await.unwrap();
    }
    // A batch of two.
    let applied = notification
        .deliver_batch(&[order(Uuid::new_v4()), order(Uuid::new_v4())])
        .await
        .unwrap();
    assert!(applied.iter().all(|a| matches!(a, Ok(Outcome::Processed))));
    // A product change: for the webhooks only.
    notification
        .processed(&cartflow_events::ProductChanged {
            sku: cartflow_events::Sku::parse("A").unwrap(),
            name: "A".into(),
            price_cents: 500,
            active: true,
            version: 1,
        })
        .await;
    let queued: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT e.url, d.event_type, count(*) FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        queued,
        vec![
            ("https://a.example/hook".into(), "order.created".into(), 3),
            ("https://a.example/hook".into(), "product.changed".into(), 1),
        ]
    );
    let body: String =
        sqlx::query_scalar("SELECT body FROM webhook_deliveries WHERE event_id = $1")
            .bind(alone.event_id)
            .fetch_one(pool)
            .await
            .unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["type"], "order.created");
    assert_eq!(body["id"], alone.event_id.to_string());
    assert!(
        body["timestamp"].is_string() && body["order_id"].is_string(),
        "{body}"
    );
}

/// Delivered and parked webhook deliveries go with their attempts once past their
/// retention; pending ones stay however old, and so do young settled ones.
#[tokio::test]
async fn settled_webhook_deliveries_past_their_retention_are_removed_with_their_attempts() {
    let notification = notification().await;
    let pool = notification.pool();
    let endpoint = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, url, events, status, secret)
         VALUES ($1, 'https://a.example/hook', '{order.created}', 'active', 'whsec_AAAA')",
    )
    .bind(endpoint)
    .execute(pool)
    .await
    .unwrap();
    for (status, age_days) in [
        ("delivered", 40),
        ("parked", 40),
        ("pending", 40),
        ("delivered", 1),
    ] {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, occurred_at, body, status, updated_at)
             VALUES ($1, $2, $3, 'order.created', now(), '{}', $4, now() - $5 * interval '1 day')",
        )
        .bind(id)
        .bind(endpoint)
        .bind(Uuid::new_v4())
        .bind(status)
        .bind(age_days as f64)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, started_at, latency_ms, status_code)
             VALUES ($1, now(), 3, 204)",
        )
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    }
    let thirty_days = std::time::Duration::from_secs(30 * 86_400);
    let removed = notification_service::webhooks::store::remove_settled(pool, thirty_days, 1000)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT status FROM webhook_deliveries ORDER BY status")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(left, vec!["delivered", "pending"]);
    assert_eq!(
        notification
            .count("SELECT count(*) FROM webhook_attempts")
            .await,
        2
    );
}

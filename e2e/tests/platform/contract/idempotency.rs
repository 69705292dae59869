//! `Idempotency-Key` on `POST /cart/convert-to-order`: a retried convert is one
//! checkout, and the stored answer outlives the cart service's process.

use crate::helpers::spawn_app;
use cartflow_events::Service;
use serde_json::Value;
use std::collections::BTreeSet;
use uuid::Uuid;

/// `POST /cart/convert-to-order` as `customer` with an idempotency key.
async fn convert(
    app: &cartflow_e2e::TestApp,
    customer: Uuid,
    key: &str,
    body: Value,
) -> reqwest::Result<reqwest::Response> {
    let url = format!("{}/cart/convert-to-order", app.url(Service::Cart));
    app.as_customer(app.http.post(url), customer)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
}

/// The same convert sent twice at once and twice in sequence with one key makes one
/// checkout; the same key with another body is a 422; after the cart service restarts
/// the stored answer is still given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_makes_a_retried_convert_one_checkout() {
    let mut app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let ann = Uuid::new_v4();
    app.add(ann, "KB-1", 1).await;
    let pay = serde_json::to_value(cartflow_api::cart::CheckoutRequest::paid_with(
        "pm_card_visa",
    ))
    .unwrap();
    let (first, second) = tokio::join!(
        convert(&app, ann, "k-1", pay.clone()),
        convert(&app, ann, "k-1", pay.clone())
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort();
    // Together: one made the checkout; the other was either replayed or told the
    // first is in flight. Never two checkouts.
    assert!(matches!(statuses, [202, 202] | [202, 409]), "{statuses:?}");
    let bodies: Vec<Value> = vec![first.json().await.unwrap(), second.json().await.unwrap()];
    let accepted: BTreeSet<String> = bodies
        .iter()
        .filter_map(|b| b["checkout_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(accepted.len(), 1, "{bodies:?}");
    let again = convert(&app, ann, "k-1", pay.clone()).await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replayed: Value = again.json().await.unwrap();
    assert_eq!(
        replayed["checkout_id"].as_str(),
        accepted.iter().next().map(String::as_str)
    );
    let other = serde_json::to_value(cartflow_api::cart::CheckoutRequest::paid_with(
        "pm_card_mastercard",
    ))
    .unwrap();
    let refused = convert(&app, ann, "k-1", other).await.unwrap();
    assert_eq!(refused.status(), 422);
    // One checkout asked of inventory.
    let requested = "SELECT count(*) FROM outbox WHERE topic = 'order-requested'";
    assert_eq!(app.count(Service::Cart, requested).await, 1);

    app.platform_mut()
        .stop_service(Service::Cart)
        .await
        .unwrap();
    app.platform_mut()
        .start_service(Service::Cart)
        .await
        .unwrap();
    let after = convert(&app, ann, "k-1", pay).await.unwrap();
    assert_eq!(after.status(), 202);
    let after: Value = after.json().await.unwrap();
    assert_eq!(after, replayed, "the stored answer outlives the process");
    app.stop().await;
}

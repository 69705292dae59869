//! Order as the arbiter of every checkout, on a database of its own (the per-service
//! layer): a checkout gets its order or is given up, never both, whatever arrives.

use cartflow_events::{
    CheckoutExpireRequested, CheckoutExpired, LineItem, OrderCreated, StockAvailable,
};
use cartflow_testkit::HandlerHarness;
use chrono::{Duration, Utc};
use order_service::OrderApp;
use order_service::handlers::OrderHandler;
use std::sync::Arc;
use uuid::Uuid;

async fn order() -> HandlerHarness {
    HandlerHarness::new::<OrderApp>(Arc::new(OrderHandler)).await
}

fn reserved(expires_in: Option<Duration>) -> StockAvailable {
    StockAvailable {
        cart_id: Uuid::new_v4(),
        checkout_id: Some(Uuid::new_v4()),
        expires_at: expires_in.map(|d| Utc::now() + d),
        customer_id: Uuid::new_v4(),
        items: vec![LineItem {
            product_sku: cartflow_events::Sku::parse("A").unwrap(),
            quantity: 2,
            unit_price_cents: 150,
        }],
    }
}

fn give_up(reserved: &StockAvailable) -> CheckoutExpireRequested {
    CheckoutExpireRequested {
        checkout_id: reserved.checkout_id.unwrap(),
        cart_id: reserved.cart_id,
        customer_id: reserved.customer_id,
        items: reserved.items.clone(),
    }
}

async fn orders(order: &HandlerHarness) -> i64 {
    order.count("SELECT count(*) FROM orders").await
}

#[tokio::test]
async fn an_answer_in_time_creates_one_order_and_a_later_expiry_request_gets_it_again() {
    let order = order().await;
    let checkout = reserved(Some(Duration::minutes(5)));
    order.processed(&checkout).await;
    order.processed(&checkout).await; // re-announced by inventory
    assert_eq!(orders(&order).await, 1);
    // The cart gave up waiting before it saw order.created: answered with the order.
    order.processed(&give_up(&checkout)).await;
    let created = order.staged::<OrderCreated>().await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].order_id, created[1].order_id);
    assert_eq!(created[1].checkout_id, checkout.checkout_id);
    assert_eq!(created[1].total_cents, 300);
    assert!(order.staged::<CheckoutExpired>().await.is_empty());
    assert_eq!(orders(&order).await, 1);
    // The order's lines were stored with it, once.
    let lines: Vec<(i32, String, i32, i64)> =
        sqlx::query_as("SELECT line_no, product_sku, quantity, unit_price_cents FROM order_items")
            .fetch_all(order.pool())
            .await
            .unwrap();
    assert_eq!(lines, vec![(1, "A".to_string(), 2, 150)]);
}

#[tokio::test]
async fn an_expiry_request_first_leaves_the_late_answer_without_an_order() {
    let order = order().await;
    let checkout = reserved(Some(Duration::minutes(5)));
    order.processed(&give_up(&checkout)).await;
    order.processed(&checkout).await;
    order.processed(&give_up(&checkout)).await; // re-sent: announced again
    assert_eq!(orders(&order).await, 0);
    assert!(order.staged::<OrderCreated>().await.is_empty());
    let expired = order.staged::<CheckoutExpired>().await;
    assert_eq!(expired.len(), 2);
    assert!(
        expired
            .iter()
            .all(|e| Some(e.checkout_id) == checkout.checkout_id)
    );
}

#[tokio::test]
async fn an_answer_past_the_expiry_gives_the_checkout_up_by_itself() {
    let order = order().await;
    let late = reserved(Some(-Duration::seconds(1)));
    order.processed(&late).await;
    assert_eq!(orders(&order).await, 0);
    let expired = order.staged::<CheckoutExpired>().await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].items, late.items);
    // The cart's own request then finds the decision and repeats it.
    order.processed(&give_up(&late)).await;
    assert_eq!(order.staged::<CheckoutExpired>().await.len(), 2);
    assert_eq!(orders(&order).await, 0);
}

#[tokio::test]
async fn two_checkouts_of_one_cart_are_decided_separately() {
    let order = order().await;
    let first = reserved(Some(Duration::minutes(5)));
    order.processed(&give_up(&first)).await;
    // The cart, unlocked, is checked out again under a new checkout id.
    let retry = StockAvailable {
        checkout_id: Some(Uuid::new_v4()),
        ..first.clone()
    };
    order.processed(&retry).await;
    assert_eq!(orders(&order).await, 1);
    let created = order.staged::<OrderCreated>().await;
    assert_eq!(created[0].checkout_id, retry.checkout_id);
}

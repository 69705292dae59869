//! How a cart's checkout ends, on a database of its own (the per-service layer): the
//! answers the handler takes or ignores, and what the watchdog sends for a checkout
//! that is overdue or past its expiry.

use cart_service::CartApp;
use cart_service::handlers::CartHandler;
use cart_service::watchdog::{DeadlineSettings, Watchdog};
use cartflow_events::{
    CheckoutExpireRequested, CheckoutExpired, INSUFFICIENT_STOCK, LineItem, OrderCreated,
    OrderRequested, StockRejected,
};
use cartflow_messaging::Outbox;
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::HandlerHarness;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

async fn cart_service() -> HandlerHarness {
    HandlerHarness::new::<CartApp>(Arc::new(CartHandler)).await
}

/// A cart pending on `checkout_id`, requested `requested_ago` and expiring in
/// `expires_in` seconds (negative: expired).
struct Pending {
    cart_id: Uuid,
    customer_id: Uuid,
    checkout_id: Uuid,
}

async fn pending(cart: &HandlerHarness, requested_ago: i64, expires_in: i64) -> Pending {
    let p = Pending {
        cart_id: Uuid::new_v4(),
        customer_id: Uuid::new_v4(),
        checkout_id: Uuid::new_v4(),
    };
    sqlx::query(
        "INSERT INTO carts (id, customer_id, status, checkout_id, checkout_requests,
                            checkout_requested_at, checkout_expires_at)
         VALUES ($1, $2, 'checkout_pending', $3, 1,
                 now() - make_interval(secs => $4), now() + make_interval(secs => $5))",
    )
    .bind(p.cart_id)
    .bind(p.customer_id)
    .bind(p.checkout_id)
    .bind(requested_ago as f64)
    .bind(expires_in as f64)
    .execute(cart.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO cart_items (cart_id, product_sku, quantity, unit_price_cents) VALUES ($1, 'A', 2, 100)",
    )
    .bind(p.cart_id)
    .execute(cart.pool())
    .await
    .unwrap();
    p
}

async fn status(cart: &HandlerHarness, cart_id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM carts WHERE id = $1")
        .bind(cart_id)
        .fetch_one(cart.pool())
        .await
        .unwrap()
}

fn rejected(p: &Pending, checkout_id: Option<Uuid>) -> StockRejected {
    StockRejected {
        cart_id: p.cart_id,
        checkout_id,
        customer_id: p.customer_id,
        reason: INSUFFICIENT_STOCK.into(),
        details: vec![],
    }
}

fn expired(p: &Pending, checkout_id: Uuid) -> CheckoutExpired {
    CheckoutExpired {
        checkout_id,
        cart_id: p.cart_id,
        customer_id: p.customer_id,
        items: vec![],
    }
}

#[tokio::test]
async fn only_the_pending_checkouts_own_answers_unlock_the_cart() {
    let cart = cart_service().await;
    let p = pending(&cart, 0, 300).await;
    // Answers for an earlier attempt of the same cart change nothing.
    cart.processed(&rejected(&p, Some(Uuid::new_v4()))).await;
    cart.processed(&expired(&p, Uuid::new_v4())).await;
    assert_eq!(status(&cart, p.cart_id).await, "checkout_pending");

    cart.processed(&expired(&p, p.checkout_id)).await;
    assert_eq!(status(&cart, p.cart_id).await, "checkout_expired");
    // A rejection arriving after the expiry does not overwrite it.
    cart.processed(&rejected(&p, Some(p.checkout_id))).await;
    assert_eq!(status(&cart, p.cart_id).await, "checkout_expired");
}

#[tokio::test]
async fn a_rejection_from_before_checkout_ids_still_unlocks_the_pending_cart() {
    let cart = cart_service().await;
    let p = pending(&cart, 0, 300).await;
    cart.processed(&rejected(&p, None)).await;
    assert_eq!(status(&cart, p.cart_id).await, "stock_unavailable");
}

#[tokio::test]
async fn an_order_converts_the_cart_once() {
    let cart = cart_service().await;
    let p = pending(&cart, 0, 300).await;
    let created = order_for(&p);
    cart.processed(&created).await;
    cart.processed(&created).await; // announced again by the arbiter
    assert_eq!(status(&cart, p.cart_id).await, "converted");
    assert_eq!(order_of(&cart, p.cart_id).await, Some(created.order_id));
}

/// A new order for the pending checkout.
fn order_for(p: &Pending) -> OrderCreated {
    OrderCreated {
        order_id: Uuid::new_v4(),
        cart_id: p.cart_id,
        checkout_id: Some(p.checkout_id),
        customer_id: p.customer_id,
        items: vec![],
        total_cents: 200,
        shipping_address: None,
    }
}

async fn order_of(cart: &HandlerHarness, cart_id: Uuid) -> Option<Uuid> {
    sqlx::query_scalar("SELECT order_id FROM carts WHERE id = $1")
        .bind(cart_id)
        .fetch_one(cart.pool())
        .await
        .unwrap()
}

/// Orders that arrive in one batch convert their carts with one statement: each cart
/// once, with its order; a repeat within the batch, or an order for a cart converted
/// before, changes nothing.
#[tokio::test]
async fn a_batch_of_orders_converts_each_cart_once() {
    let cart = cart_service().await;
    let (a, b, done) = (
        pending(&cart, 0, 300).await,
        pending(&cart, 0, 300).await,
        pending(&cart, 0, 300).await,
    );
    let earlier = order_for(&done);
    cart.processed(&earlier).await;
    let (for_a, for_b) = (order_for(&a), order_for(&b));
    let applied = cart
        .deliver_batch(&[
            for_a.clone(),
            for_b.clone(),
            for_a.clone(),
            order_for(&done),
        ])
        .await
        .unwrap();
    assert!(applied.iter().all(|r| matches!(r, Ok(Outcome::Processed))));
    for (p, expected) in [
        (&a, for_a.order_id),
        (&b, for_b.order_id),
        (&done, earlier.order_id),
    ] {
        assert_eq!(status(&cart, p.cart_id).await, "converted");
        assert_eq!(order_of(&cart, p.cart_id).await, Some(expected));
    }
    assert_eq!(
        cart.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
}

#[tokio::test]
async fn the_watchdog_re_requests_overdue_checkouts_and_gives_up_expired_ones() {
    let cart = cart_service().await;
    let overdue = pending(&cart, 60, 300).await;
    let expired = pending(&cart, 2, -1).await;
    let fresh = pending(&cart, 0, 300).await;
    let watchdog = Watchdog {
        outbox: Outbox::new(cartflow_events::Service::Cart, cart.pool().clone()),
        settings: DeadlineSettings {
            deadline: Duration::from_secs(30),
            expire: Duration::from_secs(300),
            interval: Duration::from_secs(1),
        },
    };
    assert_eq!(watchdog.pass().await.unwrap(), 2);

    let requests = cart.staged::<OrderRequested>().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].checkout_id, Some(overdue.checkout_id));
    assert_eq!(
        requests[0].items,
        vec![LineItem {
            product_sku: cartflow_events::Sku::parse("A").unwrap(),
            quantity: 2,
            unit_price_cents: 100
        }]
    );
    let give_ups = cart.staged::<CheckoutExpireRequested>().await;
    assert_eq!(give_ups.len(), 1);
    assert_eq!(give_ups[0].checkout_id, expired.checkout_id);
    assert_eq!(give_ups[0].customer_id, expired.customer_id);

    // Each was just sent: nothing is due again until the deadline passes.
    assert_eq!(watchdog.pass().await.unwrap(), 0);
    let untouched = format!(
        "SELECT count(*) FROM carts WHERE id = '{}' AND checkout_requests = 1",
        fresh.cart_id
    );
    assert_eq!(cart.count(&untouched).await, 1);
}

//! Every consumer applies an event once, however often it is delivered: each event is
//! published twice (same `event_id`, as a relay that crashed after publishing would),
//! and each test waits until the consumer has seen and skipped the second copy.

use crate::burst::{assert_books, shop, shoppers};
use crate::helpers::{eventually, spawn_app, spawn_app_duplicating};
use cartflow_events::{
    INSUFFICIENT_STOCK, LineItem, OrderCancelled, OrderCreated, OrderRequested, PaymentAuthorized,
    Service, Shortage, StockAvailable, StockRejected,
};
use cartflow_testkit::envelope_for;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use uuid::Uuid;

fn line(sku: &str, quantity: i32, unit_price_cents: i64) -> LineItem {
    LineItem {
        product_sku: cartflow_events::Sku::parse(sku).unwrap(),
        quantity,
        unit_price_cents,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_reserves_once_for_a_duplicated_order_request() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let cart_id = Uuid::new_v4();
    let request = OrderRequested {
        checkout_id: None,
        expires_at: None,
        cart_id,
        customer_id: Uuid::new_v4(),
        items: vec![line("KB-1", 4, 1000)],
        payment_method: Some("pm_card_visa".into()),
        shipping_address: None,
    };
    let envelope = envelope_for::<OrderRequested>(cart_id);

    app.infra.publish_raw(&envelope, &request, 2).await;
    app.wait_for_duplicates(Service::Inventory, envelope.event_id, 1)
        .await;

    assert_eq!(app.stock("KB-1").await, (6, 4));
    let reservations = app
        .count(Service::Inventory, "SELECT count(*) FROM reservations")
        .await;
    assert_eq!(reservations, 1);
    let answers = app
        .count(
            Service::Inventory,
            "SELECT count(*) FROM outbox WHERE topic = 'stock-available'",
        )
        .await;
    assert_eq!(answers, 1);
    // Downstream, exactly one order follows.
    let orders = eventually("the order", || async {
        let orders = app.orders(&format!("cart_id={cart_id}")).await;
        (!orders.is_empty()).then_some(orders)
    })
    .await;
    assert_eq!(orders.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_returns_stock_once_for_a_duplicated_cancellation() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = Uuid::new_v4();
    app.add(customer, "KB-1", 2).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app.settled_cart(customer).await;
    assert_eq!(app.stock("KB-1").await, (8, 2));

    let cart_id = cart.id;
    let cancelled = OrderCancelled {
        checkout_id: Some(cart.checkout_id.unwrap()),
        order_id: cart.order_id.unwrap(),
        cart_id,
        customer_id: customer,
        items: vec![line("KB-1", 2, 1000)],
        reason: "test".into(),
    };
    let envelope = envelope_for::<OrderCancelled>(cart_id);
    app.infra.publish_raw(&envelope, &cancelled, 2).await;
    app.wait_for_duplicates(Service::Inventory, envelope.event_id, 1)
        .await;

    assert_eq!(app.stock("KB-1").await, (10, 0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_authorizes_once_for_a_duplicated_order_request() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let cart_id = Uuid::new_v4();
    let requested = OrderRequested {
        checkout_id: Some(Uuid::new_v4()),
        expires_at: None,
        cart_id,
        customer_id: Uuid::new_v4(),
        items: vec![line("KB-1", 2, 1000)],
        payment_method: Some("pm_card_visa".into()),
        shipping_address: None,
    };
    let envelope = envelope_for::<OrderRequested>(cart_id);
    app.infra.publish_raw(&envelope, &requested, 2).await;
    app.wait_for_duplicates(Service::Payment, envelope.event_id, 1)
        .await;
    eventually("the authorization", || async {
        (app.gateway.sandbox().ledger().counts.authorizations == 1).then_some(())
    })
    .await;
    let announced = "SELECT count(*) FROM outbox WHERE topic = 'payment.authorized'";
    eventually("the authorization announced", || async {
        (app.count(Service::Payment, announced).await == 1).then_some(())
    })
    .await;
    // Downstream (inventory reserved beside it), one order.
    eventually("the order", || async {
        (app.orders(&format!("cart_id={cart_id}")).await.len() == 1).then_some(())
    })
    .await;
    assert_eq!(
        app.gateway.sandbox().ledger().intents.len(),
        1,
        "one authorization"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_created_once_for_a_duplicated_payment_authorization() {
    let app = spawn_app().await;
    let cart_id = Uuid::new_v4();
    let available = PaymentAuthorized {
        checkout_id: Uuid::new_v4(),
        expires_at: None,
        cart_id,
        customer_id: Uuid::new_v4(),
        payment_id: Uuid::new_v4(),
        amount_cents: 2005,
        items: vec![line("KB-1", 2, 1000), line("MS-1", 1, 5)],
        shipping_address: None,
        card: None,
    };
    // Inventory's answer, once; the order waits for both.
    let reserved = StockAvailable {
        checkout_id: Some(available.checkout_id),
        expires_at: None,
        cart_id,
        customer_id: available.customer_id,
        items: available.items.clone(),
        payment_method: None,
        total_cents: Some(2005),
        shipping_address: None,
    };
    app.infra
        .publish_raw(&envelope_for::<StockAvailable>(cart_id), &reserved, 1)
        .await;
    let envelope = envelope_for::<PaymentAuthorized>(cart_id);
    app.infra.publish_raw(&envelope, &available, 2).await;
    app.wait_for_duplicates(Service::Order, envelope.event_id, 1)
        .await;

    eventually("the order", || async {
        (!app.orders(&format!("cart_id={cart_id}")).await.is_empty()).then_some(())
    })
    .await;
    let orders = app.orders(&format!("cart_id={cart_id}")).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].total_cents, 2005);
    let announced = app
        .count(
            Service::Order,
            "SELECT count(*) FROM outbox WHERE topic = 'order.created'",
        )
        .await;
    assert_eq!(announced, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_applies_duplicated_outcomes_once() {
    let app = spawn_app().await;
    let customer = Uuid::new_v4();
    let cart_id = Uuid::new_v4();
    // A cart waiting for inventory's answer; the answers below come by hand.
    sqlx::query("INSERT INTO carts (id, customer_id, status) VALUES ($1, $2, 'checkout_pending')")
        .bind(cart_id)
        .bind(customer)
        .execute(app.pool(Service::Cart))
        .await
        .unwrap();

    let rejected = StockRejected {
        checkout_id: None,
        cart_id,
        customer_id: customer,
        reason: INSUFFICIENT_STOCK.into(),
        details: vec![Shortage {
            product_sku: cartflow_events::Sku::parse("KB-1").unwrap(),
            requested: 2,
            available: 1,
        }],
    };
    let envelope = envelope_for::<StockRejected>(cart_id);
    app.infra.publish_raw(&envelope, &rejected, 2).await;
    app.wait_for_duplicates(Service::Cart, envelope.event_id, 1)
        .await;
    let cart: Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(cart["status"], "stock_unavailable");
    assert_eq!(cart["rejection"]["details"][0]["available"], 1);

    // The customer retries; this time the order is created, and announced twice.
    sqlx::query("UPDATE carts SET status = 'checkout_pending' WHERE id = $1")
        .bind(cart_id)
        .execute(app.pool(Service::Cart))
        .await
        .unwrap();
    let order_id = Uuid::new_v4();
    let created = OrderCreated {
        checkout_id: None,
        order_id,
        cart_id,
        customer_id: customer,
        items: vec![],
        total_cents: 0,
        shipping_address: None,
    };
    let envelope = envelope_for::<OrderCreated>(cart_id);
    app.infra.publish_raw(&envelope, &created, 2).await;
    app.wait_for_duplicates(Service::Cart, envelope.event_id, 1)
        .await;
    let cart: Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(cart["status"], "converted");
    assert_eq!(cart["order_id"], order_id.to_string());

    let consumed: Vec<(String, i32)> = sqlx::query_as(
        "SELECT event_type, duplicate_deliveries FROM processed_messages ORDER BY processed_at",
    )
    .fetch_all(app.pool(Service::Cart))
    .await
    .unwrap();
    assert_eq!(
        consumed,
        [("stock.rejected".into(), 1), ("order.created".into(), 1)]
    );
    app.stop().await;
}

/// The duplicate storm: every event of a burst of 60 checkouts (45 in stock) is
/// published twice, and the books balance as if each had come once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_with_every_message_delivered_twice_balances_the_books() {
    const SHOPPERS: usize = 60;
    const STOCK: i32 = 45;
    let app = spawn_app_duplicating(&[]).await;
    app.create_product("DUP-1", 1000, STOCK).await;
    let customers = shoppers(&app, SHOPPERS).await;
    let accepted = AtomicUsize::new(0);
    futures::future::join_all(customers.iter().map(|&c| shop(&app, c, "DUP-1", &accepted))).await;
    let carts = app.settled_carts(&customers, Duration::from_secs(60)).await;
    assert_books(&app, "DUP-1", STOCK, &carts).await;
    // The storm happened: the saga's consumers saw (and skipped) copies. A copy may
    // arrive after its original settled the cart, so wait for them.
    app.wait_for_skipped_copies(
        Service::Inventory,
        SHOPPERS as i64,
        "inventory to skip a copy per shopper",
    )
    .await;
    app.stop().await;
}

//! The saga's two endings: a confirmed order, or an unlocked cart with details.

use crate::helpers::{TestApp, assert_problem, count, eventually, spawn_app};
use cart_service::domain::{Cart, CartStatus, Rejection};
use cartflow_events::{Service, Shortage, Sku};
use order_service::domain::OrderStatus;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

/// Sessions of the test's database waiting for a lock.
const LOCK_WAITS: &str = "SELECT count(*) FROM pg_stat_activity
                          WHERE datname = current_database() AND wait_event_type = 'Lock'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_line_checkout_becomes_a_confirmed_order() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1250, 10).await;
    app.create_product("MS-1", 399, 5).await;
    let customer = Uuid::new_v4();

    app.add(customer, "KB-1", 2).await;
    let cart = app.add(customer, "MS-1", 1).await;
    assert_eq!(cart.total_cents, 2 * 1250 + 399);
    let accepted = app.convert(customer).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["cart_id"], cart.id.to_string());

    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");
    let order_id = cart.order_id.expect("converted cart names its order");
    let order = app.order(order_id).await;
    assert_eq!(order.status, OrderStatus::Confirmed);
    assert_eq!(order.total_cents, 2899);
    assert_eq!(order.customer_id, customer);
    let lines: Vec<_> = order
        .items
        .iter()
        .map(|l| (l.product_sku.as_str(), l.quantity, l.unit_price_cents))
        .collect();
    assert_eq!(lines, [("KB-1", 2, 1250), ("MS-1", 1, 399)]);
    assert_eq!(app.orders(&format!("cart_id={}", cart.id)).await.len(), 1);
    assert_eq!(app.stock("KB-1").await, (8, 2));
    assert_eq!(app.stock("MS-1").await, (4, 1));

    // Adding to a converted cart starts a new one.
    let next = app.add(customer, "KB-1", 1).await;
    assert_ne!(next.id, cart.id);
    assert_eq!(next.status, CartStatus::Open);
    app.stop().await;
}

/// Runs `edit`, which locks the cart and then waits behind `blocker`, and a convert that
/// waits behind `edit`; once both wait, rolls the blocker back. Returns both answers.
async fn convert_behind(
    app: &TestApp,
    blocker: sqlx::Transaction<'static, sqlx::Postgres>,
    customer: Uuid,
    edit: impl std::future::Future<Output = Response>,
) -> (Response, Response) {
    let db = app.pool(Service::Cart);
    let convert_meanwhile = async {
        eventually("the edit to wait, holding the cart's lock", || async {
            (count(db, LOCK_WAITS).await == 1).then_some(())
        })
        .await;
        let convert = app.convert(customer);
        let release = async {
            eventually("convert to wait for the cart's lock", || async {
                (count(db, LOCK_WAITS).await == 2).then_some(())
            })
            .await;
            blocker.rollback().await.unwrap();
        };
        tokio::join!(convert, release).0
    };
    tokio::join!(edit, convert_meanwhile)
}

/// Waits for the customer's checkout to end converted, and checks what its order holds:
/// each line's SKU, quantity and unit price, in order, and their total.
async fn assert_ordered(app: &TestApp, customer: Uuid, expected: &[(&str, i32, i64)]) {
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");
    let order = app.order(cart.order_id.unwrap()).await;
    let lines: Vec<_> = order
        .items
        .iter()
        .map(|l| (l.product_sku.as_str(), l.quantity, l.unit_price_cents))
        .collect();
    assert_eq!(lines, expected);
    let total: i64 = expected.iter().map(|(_, q, p)| i64::from(*q) * p).sum();
    assert_eq!(order.total_cents, total);
}

/// A line added while the cart is being converted is in the order. Convert's first
/// statement waits for the add, whose write moved the cart's row, so it starts nothing
/// (its snapshot predates the add); convert then locks the cart and reads the lines
/// after the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_added_while_converting_is_in_the_order() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1250, 10).await;
    app.create_product("MS-1", 399, 5).await;
    let customer = Uuid::new_v4();
    let cart = app.add(customer, "KB-1", 1).await;
    let db = app.pool(Service::Cart);

    // An uncommitted MS-1 line: the add-line below locks the cart, then waits on it.
    let mut blocker = db.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO cart_items (cart_id, product_sku, quantity, unit_price_cents)
         VALUES ($1, 'MS-1', 1, 1)",
    )
    .bind(cart.id)
    .execute(&mut *blocker)
    .await
    .unwrap();
    let (added, converted) =
        convert_behind(&app, blocker, customer, app.add_item(customer, "MS-1", 1)).await;
    assert_eq!(added.status(), StatusCode::OK);
    assert_eq!(converted.status(), StatusCode::ACCEPTED);

    assert_ordered(&app, customer, &[("KB-1", 1, 1250), ("MS-1", 1, 399)]).await;
    app.stop().await;
}

/// A line removed while the cart is being converted is not in the order. The remove
/// takes the cart's lock by writing its row, so convert's first statement, which waited
/// for it, starts nothing and convert reads the lines again under the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_removed_while_converting_is_not_in_the_order() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1250, 10).await;
    app.create_product("MS-1", 399, 5).await;
    let customer = Uuid::new_v4();
    app.add(customer, "KB-1", 1).await;
    let cart = app.add(customer, "MS-1", 1).await;
    let db = app.pool(Service::Cart);

    // Holds the MS-1 line: the remove below locks the cart, then waits on it.
    let mut blocker = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM cart_items WHERE cart_id = $1 AND product_sku = 'MS-1' FOR UPDATE")
        .bind(cart.id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let (removed, converted) =
        convert_behind(&app, blocker, customer, app.remove_item(customer, "MS-1")).await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(converted.status(), StatusCode::ACCEPTED);

    assert_ordered(&app, customer, &[("KB-1", 1, 1250)]).await;
    app.stop().await;
}

/// An add-line that waited for another writer of the cart answers with that writer's
/// line too. Its one statement began before the other committed, so it finds the cart
/// changed, changes nothing, and adds under the cart's lock instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_line_that_waited_for_another_answers_with_the_whole_cart() {
    let app = spawn_app().await;
    for (sku, price) in [("KB-1", 1250), ("MS-1", 399), ("PAD-1", 150)] {
        app.create_product(sku, price, 10).await;
    }
    let customer = Uuid::new_v4();
    let cart = app.add(customer, "KB-1", 1).await;
    let db = app.pool(Service::Cart);

    // Another add, as cart writes one: the cart's row, then the line; not committed yet.
    let mut other = db.begin().await.unwrap();
    sqlx::query("UPDATE carts SET updated_at = now() WHERE id = $1")
        .bind(cart.id)
        .execute(&mut *other)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO cart_items (cart_id, product_sku, quantity, unit_price_cents)
         VALUES ($1, 'MS-1', 2, 399)",
    )
    .bind(cart.id)
    .execute(&mut *other)
    .await
    .unwrap();
    let add = app.add_item(customer, "PAD-1", 1);
    let commit_meanwhile = async {
        eventually("add-line to wait for the cart", || async {
            (count(db, LOCK_WAITS).await == 1).then_some(())
        })
        .await;
        other.commit().await.unwrap();
    };
    let (added, ()) = tokio::join!(add, commit_meanwhile);
    assert_eq!(added.status(), StatusCode::OK);
    let answered: Cart = added.json().await.unwrap();
    let lines: Vec<_> = answered
        .items
        .iter()
        .map(|l| (l.product_sku.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("KB-1", 1), ("MS-1", 2), ("PAD-1", 1)]);
    assert_eq!(answered.total_cents, 1250 + 2 * 399 + 150);
    let stored: Cart = app.cart(customer).await.json().await.unwrap();
    assert_eq!(stored.items, answered.items);
    app.stop().await;
}

/// Adds racing each other for one customer who has no cart yet all land, in one cart:
/// one creates it, the others find it (or lose the creation and take the lock), and
/// every answer holds its own line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_adds_land_every_line_in_one_cart() {
    let app = spawn_app().await;
    let skus: Vec<String> = (1..=12).map(|n| format!("RACE-{n}")).collect();
    for sku in &skus {
        app.create_product(sku, 100, 10).await;
    }
    let customer = Uuid::new_v4();
    let answers =
        futures::future::join_all(skus.iter().map(|sku| app.add_item(customer, sku, 1))).await;
    let mut carts = std::collections::HashSet::new();
    for (sku, answer) in skus.iter().zip(answers) {
        assert_eq!(answer.status(), StatusCode::OK, "{sku}");
        let cart: Cart = answer.json().await.unwrap();
        assert!(
            cart.items.iter().any(|l| l.product_sku.as_str() == sku),
            "{sku}: {cart:?}"
        );
        // Each answer is the cart as it was when that add committed: its own line and
        // some of the others, each once.
        let mut answered: Vec<&str> = cart.items.iter().map(|l| l.product_sku.as_str()).collect();
        answered.sort_unstable();
        answered.dedup();
        assert_eq!(answered.len(), cart.items.len(), "{sku}: {cart:?}");
        assert_eq!(
            cart.total_cents,
            100 * cart.items.len() as i64,
            "{sku}: {cart:?}"
        );
        carts.insert(cart.id);
    }
    assert_eq!(carts.len(), 1, "one cart for the customer: {carts:?}");
    let stored: Cart = app.cart(customer).await.json().await.unwrap();
    let mut stored_skus: Vec<&str> = stored
        .items
        .iter()
        .map(|l| l.product_sku.as_str())
        .collect();
    stored_skus.sort_unstable();
    let mut expected: Vec<&str> = skus.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(stored_skus, expected);
    assert_eq!(stored.total_cents, 12 * 100);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_stock_rejects_everything_and_the_cart_can_be_fixed_and_retried() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 5).await;
    app.create_product("LAMP-1", 500, 1).await;
    let customer = Uuid::new_v4();
    app.add(customer, "KB-1", 2).await;
    app.add(customer, "LAMP-1", 3).await;

    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::StockUnavailable, "{cart:?}");
    assert_eq!(
        cart.rejection,
        Some(Rejection {
            reason: "insufficient_stock".into(),
            details: vec![Shortage {
                product_sku: Sku::parse("LAMP-1").unwrap(),
                requested: 3,
                available: 1,
            }],
            decline_code: None,
        })
    );
    // Nothing was reserved, not even the line that was available.
    assert_eq!(app.stock("KB-1").await, (5, 0));
    assert_eq!(app.stock("LAMP-1").await, (1, 0));
    assert!(
        app.orders(&format!("customer_id={customer}"))
            .await
            .is_empty()
    );

    // Unlocked: the customer edits the same cart and retries.
    let edited: Value = app
        .remove_item(customer, "LAMP-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["id"], cart.id.to_string());
    assert_eq!(edited["status"], "open");
    assert!(edited.get("rejection").is_none());
    app.add(customer, "LAMP-1", 1).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");
    let orders = app.orders(&format!("customer_id={customer}")).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].total_cents, 2 * 1000 + 500);
    assert_eq!(app.stock("LAMP-1").await, (0, 1));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_locked_carts_cannot_be_converted() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 5).await;
    let customer = Uuid::new_v4();
    assert_problem(app.convert(customer).await, StatusCode::CONFLICT).await;

    app.add(customer, "KB-1", 1).await;
    app.remove_item(customer, "KB-1").await;
    let detail = assert_problem(app.convert(customer).await, StatusCode::CONFLICT).await;
    assert!(detail.contains("empty"), "{detail}");

    app.add(customer, "KB-1", 1).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    // Locked while pending, and converted afterwards: either way, not again.
    assert_problem(app.convert(customer).await, StatusCode::CONFLICT).await;
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::Converted);
    assert_eq!(
        app.orders(&format!("customer_id={customer}")).await.len(),
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_reports_health_and_readiness() {
    let app = spawn_app().await;
    for service in cartflow_platform::SERVICES {
        for path in ["health", "ready"] {
            let response = app
                .http
                .get(format!("{}/{path}", app.url(service)))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{service} /{path}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["service"], service.name());
        }
    }
    app.stop().await;
}

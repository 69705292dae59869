//! Cancellation returns stock exactly once; fulfilment moves forward only.

use crate::helpers::{TestApp, assert_problem, eventually, spawn_app};
use cartflow_events::Service;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

async fn ordered(app: &TestApp, sku: &str, quantity: i32) -> String {
    app.checkout(Uuid::new_v4(), sku, quantity).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_returns_the_stock_exactly_once() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let order_id = ordered(&app, "KB-1", 3).await;
    assert_eq!(app.stock("KB-1").await, (7, 3));

    let cancelled = app
        .cancel(&order_id, Some(json!({ "reason": "changed my mind" })))
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "changed my mind");
    eventually("stock to come back", || async {
        (app.stock("KB-1").await == (10, 0)).then_some(())
    })
    .await;

    let again = app.cancel(&order_id, None).await;
    let detail = assert_problem(again, StatusCode::CONFLICT).await;
    assert!(detail.contains("already cancelled"), "{detail}");

    // The one cancellation event was consumed once, and nothing else was published
    // for this order: the stock stays where it is.
    let consumed = app
        .count(
            Service::Inventory,
            "SELECT count(*) FROM processed_messages WHERE event_type = 'order.cancelled'",
        )
        .await;
    assert_eq!(consumed, 1);
    let published = app
        .count(
            Service::Order,
            "SELECT count(*) FROM outbox WHERE topic = 'order.cancelled'",
        )
        .await;
    assert_eq!(published, 1);
    assert_eq!(app.stock("KB-1").await, (10, 0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_orders_are_404_and_bad_ids_400() {
    let app = spawn_app().await;
    assert_problem(
        app.cancel(&Uuid::new_v4().to_string(), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.cancel("not-a-uuid", None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let response = app
        .staff
        .get(format!(
            "{}/orders/{}",
            app.url(Service::Order),
            Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND).await;
    let response = app
        .staff
        .get(format!("{}/orders?status=lost", app.url(Service::Order)))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfilment_moves_forward_and_a_shipped_order_cannot_be_cancelled() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let order_id = ordered(&app, "KB-1", 1).await;
    let status_url = format!("{}/orders/{order_id}/status", app.url(Service::Order));
    let put = |status: &'static str| {
        app.staff
            .put(&status_url)
            .json(&json!({ "status": status }))
            .send()
    };

    assert_problem(put("delivered").await.unwrap(), StatusCode::CONFLICT).await;
    assert_problem(
        put("cancelled").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let shipped = put("shipped").await.unwrap();
    assert_eq!(shipped.status(), StatusCode::OK);
    assert_eq!(shipped.json::<Value>().await.unwrap()["status"], "shipped");
    // PUT is idempotent: the same status again changes and announces nothing.
    assert_eq!(put("shipped").await.unwrap().status(), StatusCode::OK);
    assert_problem(app.cancel(&order_id, None).await, StatusCode::CONFLICT).await;
    let delivered = put("delivered").await.unwrap();
    assert_eq!(
        delivered.json::<Value>().await.unwrap()["status"],
        "delivered"
    );

    let events: Vec<String> =
        sqlx::query_scalar("SELECT topic FROM outbox WHERE topic LIKE 'order.%' ORDER BY id")
            .fetch_all(app.pool(Service::Order))
            .await
            .unwrap();
    assert_eq!(
        events,
        ["order.created", "order.shipped", "order.delivered"]
    );
    // Stock stays with the order.
    assert_eq!(app.stock("KB-1").await, (9, 1));
    app.stop().await;
}

/// `PUT /orders/{id}/status` as staff.
async fn set_status(app: &TestApp, order_id: &str, status: &str) -> reqwest::Response {
    app.staff
        .put(format!(
            "{}/orders/{order_id}/status",
            app.url(Service::Order)
        ))
        .json(&json!({ "status": status }))
        .send()
        .await
        .unwrap()
}

/// Eight cancels of one order at once: exactly one succeeds, the others are 409, and
/// the stock comes back once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cancels_of_one_order_return_the_stock_once() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let order_id = ordered(&app, "KB-1", 4).await;
    let statuses: Vec<StatusCode> =
        futures::future::join_all((0..8).map(|_| app.cancel(&order_id, None)))
            .await
            .into_iter()
            .map(|r| r.status())
            .collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let conflict = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflict), (1, 7), "{statuses:?}");
    eventually("stock to come back", || async {
        (app.stock("KB-1").await == (10, 0)).then_some(())
    })
    .await;
    let published = app
        .count(
            Service::Order,
            "SELECT count(*) FROM outbox WHERE topic = 'order.cancelled'",
        )
        .await;
    assert_eq!(published, 1, "one cancellation announced");
    app.stop().await;
}

/// A cancel racing a shipment: one of them wins. Cancelled, the stock comes back and
/// the shipment is refused; shipped, the cancel is refused and the stock stays sold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_a_shipment_ends_one_way_only() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 50).await;
    for _ in 0..5 {
        let order_id = ordered(&app, "KB-1", 1).await;
        let (cancel, ship) = tokio::join!(
            app.cancel(&order_id, None),
            set_status(&app, &order_id, "shipped")
        );
        let order: Value = app
            .get_json(Service::Order, &format!("/orders/{order_id}"))
            .await;
        match (cancel.status(), ship.status()) {
            (StatusCode::OK, StatusCode::CONFLICT) => assert_eq!(order["status"], "cancelled"),
            (StatusCode::CONFLICT, StatusCode::OK) => assert_eq!(order["status"], "shipped"),
            other => panic!("both or neither won: {other:?}, order {order}"),
        }
    }
    let cancelled = app
        .count(
            Service::Order,
            "SELECT count(*) FROM orders WHERE status = 'cancelled'",
        )
        .await;
    eventually(
        "the cancelled orders' stock back, the shipped ones' sold",
        || async {
            let (available, reserved) = app.stock("KB-1").await;
            (available == 45 + cancelled && reserved == 5 - cancelled).then_some(())
        },
    )
    .await;
    app.stop().await;
}

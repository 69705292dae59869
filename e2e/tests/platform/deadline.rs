//! Every checkout ends: a checkout left pending past its deadline (here: the order
//! service is down) has its request sent again, and completes exactly once when the
//! service returns.

use crate::helpers::{eventually, spawn_app_with};
use cart_service::domain::CartStatus;
use cartflow_events::Service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_checkout_is_requested_again_and_completes_once_when_the_order_service_returns()
{
    let mut app = spawn_app_with(&[
        ("CHECKOUT_DEADLINE_MS", "300"),
        ("CHECKOUT_WATCH_MS", "100"),
    ])
    .await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = app.convert_with_order_down("KB-1", 2).await;
    // The watchdog sends the request again, and inventory answers every time from the
    // one reservation it made.
    let requests = "SELECT count(*) FROM outbox WHERE topic = 'order-requested'";
    eventually("the request sent again, twice", || async {
        (app.count(Service::Cart, requests).await >= 3).then_some(())
    })
    .await;
    let answers = "SELECT count(*) FROM outbox WHERE topic = 'stock-available'";
    eventually("inventory answering again", || async {
        (app.count(Service::Inventory, answers).await >= 2).then_some(())
    })
    .await;
    assert_eq!(
        app.count(Service::Inventory, "SELECT count(*) FROM reservations")
            .await,
        1
    );
    assert_eq!(app.stock("KB-1").await, (8, 2));
    assert_eq!(
        app.cart(customer)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["status"],
        "checkout_pending"
    );

    app.platform_mut()
        .start_service(Service::Order)
        .await
        .unwrap();
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::Converted);
    // However many answers were waiting, one order, and one authorization: payment
    // answers a re-sent reservation from the payment it holds.
    let cart_id = cart.id;
    let authorized = "SELECT count(*) FROM outbox WHERE topic = 'payment.authorized'";
    eventually("every waiting answer consumed", || async {
        let consumed =
            "SELECT count(*) FROM processed_messages WHERE event_type = 'payment.authorized'";
        let answered = app.count(Service::Payment, authorized).await;
        (app.count(Service::Order, consumed).await >= answered).then_some(())
    })
    .await;
    assert!(
        app.count(Service::Payment, authorized).await >= 2,
        "authorization announced again"
    );
    assert_eq!(app.gateway.sandbox().ledger().counts.authorizations, 1);
    assert_eq!(app.orders(&format!("cart_id={cart_id}")).await.len(), 1);
    assert_eq!(app.stock("KB-1").await, (8, 2));
    app.stop().await;
}

//! Concurrent checkouts of one scarce SKU never oversell, and every one of them ends.

use crate::helpers::spawn_app;
use cart_service::domain::CartStatus;
use futures::future::join_all;
use reqwest::StatusCode;
use std::time::Duration;
use uuid::Uuid;

const SHOPPERS: usize = 60;
const STOCK: i32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkouts_of_scarce_stock_sell_exactly_what_there_is() {
    let app = spawn_app().await;
    app.create_product("HOT-1", 2500, STOCK).await;
    app.create_product("CB-1", 100, 1000).await;
    let customers: Vec<Uuid> = (0..SHOPPERS).map(|_| Uuid::new_v4()).collect();

    // Every shopper wants one HOT-1 and one cable; all convert at once.
    join_all(customers.iter().map(|&customer| {
        let app = &app;
        async move {
            app.add(customer, "HOT-1", 1).await;
            app.add(customer, "CB-1", 1).await;
            assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
        }
    }))
    .await;

    let carts = app.settled_carts(&customers, Duration::from_secs(90)).await;

    let converted = carts
        .iter()
        .filter(|c| c.status == CartStatus::Converted)
        .count();
    let rejected = carts
        .iter()
        .filter(|c| c.status == CartStatus::StockUnavailable)
        .count();
    assert_eq!(converted, STOCK as usize);
    assert_eq!(rejected, SHOPPERS - STOCK as usize);
    // All or nothing: rejected carts hold no cable either.
    assert_eq!(app.stock("HOT-1").await, (0, i64::from(STOCK)));
    assert_eq!(
        app.stock("CB-1").await,
        (1000 - i64::from(STOCK), i64::from(STOCK))
    );
    let orders = app.orders("status=confirmed").await;
    assert_eq!(orders.len(), STOCK as usize);
    app.stop().await;
}

//! Synchronous calls fail fast and recover: cart → product through the kit's upstream
//! client (timeout, retries, circuit breaker), which cart makes only for a SKU its own
//! copy of the catalog has never heard of.

use crate::helpers::{assert_problem, eventually, spawn_app_with};
use cartflow_events::Service;
use reqwest::StatusCode;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_product_service_down_the_cart_answers_503_at_once_and_recovers() {
    let mut app = spawn_app_with(&[
        ("PRODUCT_RETRIES", "1"),
        ("PRODUCT_BREAKER_FAILURES", "2"),
        ("PRODUCT_BREAKER_OPEN_MS", "300"),
    ])
    .await;
    let customer = Uuid::new_v4();
    app.platform_mut()
        .stop_service(Service::Product)
        .await
        .unwrap();

    // A SKU cart has never heard of: the first call asks product (and retries), then
    // answers 503 with a hint when to retry.
    let response = app.add_item(customer, "KB-1", 1).await;
    let retry_after = response.headers().get("retry-after").cloned();
    let detail = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        detail.contains("product service could not be reached"),
        "{detail}"
    );
    assert!(retry_after.is_some(), "503 without Retry-After");
    // Two failures opened the breaker: the next call is answered without trying.
    let response = app.add_item(customer, "KB-1", 1).await;
    let detail = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(detail.contains("circuit open"), "{detail}");
    assert_problem(app.cart(customer).await, StatusCode::NOT_FOUND).await;

    // Back again: once the breaker lets a trial through, carts fill as before.
    app.platform_mut()
        .start_service(Service::Product)
        .await
        .unwrap();
    // Created now, and lost from cart's copy (as by a copy that missed the event), so
    // cart must ask product again: through the breaker once it lets a trial through.
    app.create_product("KB-1", 1000, 10).await;
    let forget_kb1 = || async {
        sqlx::query("DELETE FROM catalog WHERE sku = 'KB-1'")
            .execute(app.pool(Service::Cart))
            .await
            .unwrap()
            .rows_affected()
    };
    eventually("the cart to hear of KB-1, then lose it", || async {
        (forget_kb1().await == 1).then_some(())
    })
    .await;
    eventually("the cart to reach the product service again", || async {
        (app.add_item(customer, "KB-1", 1).await.status() == StatusCode::OK).then_some(())
    })
    .await;
    let cart: serde_json::Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(cart["items"][0]["quantity"], 1);
    let remembered = crate::helpers::count(
        app.pool(Service::Cart),
        "SELECT count(*) FROM catalog WHERE sku = 'KB-1' AND active",
    )
    .await;
    assert_eq!(remembered, 1, "what product answered is remembered");
    app.stop().await;
}

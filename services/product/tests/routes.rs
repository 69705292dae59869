//! Product's routes on a database of their own (the per-service layer): the catalog
//! is checked at the edge, and a refused request changes nothing.

use cartflow_testkit::HandlerHarness;
use product_service::ProductApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_catalog_is_created_read_and_changed_through_its_routes() {
    let product = HandlerHarness::for_app(&ProductApp).await;
    let (status, created) = product
        .request(
            "POST",
            "/products",
            Some(json!({ "sku": " KB-1 ", "name": "Keyboard", "price_cents": 4999 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["sku"], "KB-1", "trimmed at the edge");
    let (status, shown) = product.request("GET", "/products/KB-1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["price_cents"], 4999);
    let (status, _) = product
        .request(
            "PUT",
            "/products/KB-1",
            Some(json!({ "name": "Keyboard", "price_cents": 3999 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, shown) = product.request("GET", "/products/KB-1", None).await;
    assert_eq!(shown["price_cents"], 3999);
}

#[tokio::test]
async fn refused_requests_change_nothing() {
    let product = HandlerHarness::for_app(&ProductApp).await;
    let (status, _) = product
        .request(
            "POST",
            "/products",
            Some(json!({ "sku": "KB-1", "name": "Keyboard", "price_cents": 4999 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for (body, expected) in [
        (
            json!({ "sku": "KB-1", "name": "Again", "price_cents": 1 }),
            StatusCode::CONFLICT,
        ),
        (
            json!({ "sku": "KB-2", "name": "Bad", "price_cents": -1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "sku": "", "name": "No SKU", "price_cents": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "sku": "KB 3", "name": "Odd SKU", "price_cents": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, problem) = product
            .request("POST", "/products", Some(body.clone()))
            .await;
        assert_eq!(status, expected, "{body} → {problem}");
        assert!(problem["detail"].is_string(), "problem+json for {body}");
    }
    // A SKU in the path is parsed once, at the edge: a malformed one is a bad request.
    let (status, problem) = product.request("GET", "/products/KB%2F1", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("contains '/'"),
        "{problem}"
    );
    let (status, _) = product
        .request(
            "PUT",
            "/products/KB%2F1",
            Some(json!({ "name": "X", "price_cents": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(product.count("SELECT count(*) FROM products").await, 1);
    let (_, shown) = product.request("GET", "/products/KB-1", None).await;
    assert_eq!(shown["name"], "Keyboard");
}

//! Customer's routes on a database of their own (the per-service layer): every change
//! is announced in the same transaction, and a refused request changes and announces
//! nothing.

use cartflow_events::{CustomerCreated, CustomerDeleted, CustomerUpdated};
use cartflow_testkit::HandlerHarness;
use customer_service::CustomerApp;
use reqwest::StatusCode;
use serde_json::json;

async fn customers() -> HandlerHarness {
    HandlerHarness::for_app(&CustomerApp).await
}

async fn outbox_rows(customer: &HandlerHarness) -> i64 {
    customer.count("SELECT count(*) FROM outbox").await
}

#[tokio::test]
async fn create_update_delete_are_each_announced_once() {
    let customer = customers().await;
    let (status, created) = customer
        .request(
            "POST",
            "/customers",
            Some(json!({ "name": "Ann", "email": "Ann@Example.com" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let announced = customer.staged::<CustomerCreated>().await;
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].0.customer_id.to_string(), id);
    assert_eq!(announced[0].0.email, "ann@example.com");

    let (status, _) = customer
        .request(
            "PUT",
            &format!("/customers/{id}"),
            Some(json!({ "name": "Ann B", "email": "ann@example.com", "phone": "+1 555 0100" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let updated = customer.staged::<CustomerUpdated>().await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].0.name, "Ann B");

    let (status, _) = customer
        .request("DELETE", &format!("/customers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(customer.staged::<CustomerDeleted>().await.len(), 1);
    let (status, problem) = customer
        .request("GET", &format!("/customers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["status"], 404);
}

#[tokio::test]
async fn refused_requests_change_and_announce_nothing() {
    let customer = customers().await;
    let (status, _) = customer
        .request(
            "POST",
            "/customers",
            Some(json!({ "name": "Ann", "email": "ann@example.com" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = outbox_rows(&customer).await;

    for (body, expected) in [
        (
            json!({ "name": "", "email": "b@example.com" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "name": "Bob", "email": "not-an-email" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "name": "Bob", "email": "b@example.com", "extra": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // The email is taken (case does not matter).
        (
            json!({ "name": "Bob", "email": "ANN@example.com" }),
            StatusCode::CONFLICT,
        ),
    ] {
        let (status, problem) = customer
            .request("POST", "/customers", Some(body.clone()))
            .await;
        assert_eq!(status, expected, "{body} → {problem}");
        assert!(problem["detail"].is_string(), "problem+json for {body}");
    }
    assert_eq!(customer.count("SELECT count(*) FROM customers").await, 1);
    assert_eq!(outbox_rows(&customer).await, before);
}

//! The contract drive of the catalog and its stock: product's and inventory's routes.

use super::harness::{Contract, Who};
use cartflow_events::Service;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// Products and their stock, created, listed, changed and deleted; `ann` is refused.
pub(super) async fn drive(c: &mut Contract, ann: Uuid) {
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    use Service::*;
    use Who::{Anonymous as Anon, Customer as As, Staff};

    let keyboard = json!({ "sku": "KB-1", "name": "Keyboard", "price_cents": 1000 });
    c.expect(
        Staff,
        post.clone(),
        Product,
        "/products",
        Some(keyboard.clone()),
        201,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Product,
        "/products",
        Some(keyboard.clone()),
        409,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Product,
        "/products",
        Some(keyboard),
        403,
    )
    .await;
    let temporary = json!({ "sku": "TMP-1", "name": "Temporary", "price_cents": 1 });
    c.expect(
        Staff,
        post.clone(),
        Product,
        "/products",
        Some(temporary),
        201,
    )
    .await;
    let page = c
        .expect(
            Anon,
            get.clone(),
            Product,
            "/products?page_size=1",
            None,
            200,
        )
        .await;
    let token = page["next_page_token"]
        .as_str()
        .expect("two products, pages of one");
    let next = format!("/products?page_size=1&page_token={token}");
    let page = c.expect(Anon, get.clone(), Product, &next, None, 200).await;
    assert_eq!(page["items"][0]["sku"], "TMP-1");
    assert!(page["next_page_token"].is_null());
    c.expect(
        Anon,
        get.clone(),
        Product,
        "/products?page_size=501",
        None,
        422,
    )
    .await;
    c.expect(
        Anon,
        get.clone(),
        Product,
        "/products?colour=red",
        None,
        400,
    )
    .await;
    c.expect(Anon, get.clone(), Product, "/products/KB-1", None, 200)
        .await;
    c.expect(Anon, get.clone(), Product, "/products/NOPE", None, 404)
        .await;
    let fields = json!({ "name": "Keyboard", "price_cents": 1200 });
    c.expect(
        Staff,
        put.clone(),
        Product,
        "/products/KB-1",
        Some(fields.clone()),
        200,
    )
    .await;
    c.expect(
        Staff,
        put.clone(),
        Product,
        "/products/NOPE",
        Some(fields.clone()),
        404,
    )
    .await;
    c.expect(
        As(ann),
        put.clone(),
        Product,
        "/products/KB-1",
        Some(fields),
        403,
    )
    .await;
    let bad = json!({ "name": "", "price_cents": 1 });
    let problem = c
        .expect(
            Staff,
            put.clone(),
            Product,
            "/products/KB-1",
            Some(bad),
            422,
        )
        .await;
    assert!(
        problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{problem}"
    );
    let wrong_type = json!({ "name": "Keyboard", "price_cents": "ten" });
    let problem = c
        .expect(
            Staff,
            put.clone(),
            Product,
            "/products/KB-1",
            Some(wrong_type),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["pointer"], "/price_cents", "{problem}");
    c.expect(
        As(ann),
        delete.clone(),
        Product,
        "/products/TMP-1",
        None,
        403,
    )
    .await;
    c.expect(Staff, delete.clone(), Product, "/products/TMP-1", None, 204)
        .await;
    c.expect(Staff, delete.clone(), Product, "/products/TMP-1", None, 404)
        .await;

    let stock = json!({ "sku": "KB-1", "quantity": 10 });
    c.expect(
        Staff,
        post.clone(),
        Inventory,
        "/inventory",
        Some(stock.clone()),
        201,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Inventory,
        "/inventory",
        Some(stock.clone()),
        409,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Inventory,
        "/inventory",
        Some(stock),
        403,
    )
    .await;
    let temporary = json!({ "sku": "TMP-1", "quantity": 1 });
    c.expect(
        Staff,
        post.clone(),
        Inventory,
        "/inventory",
        Some(temporary),
        201,
    )
    .await;
    c.expect(Anon, get.clone(), Inventory, "/inventory", None, 200)
        .await;
    c.expect(Anon, get.clone(), Inventory, "/inventory/KB-1", None, 200)
        .await;
    c.expect(Anon, get.clone(), Inventory, "/inventory/NOPE", None, 404)
        .await;
    let count = json!({ "quantity": 20 });
    c.expect(
        Staff,
        put.clone(),
        Inventory,
        "/inventory/KB-1",
        Some(count.clone()),
        200,
    )
    .await;
    c.expect(
        Staff,
        put.clone(),
        Inventory,
        "/inventory/NOPE",
        Some(count.clone()),
        404,
    )
    .await;
    c.expect(
        As(ann),
        put.clone(),
        Inventory,
        "/inventory/KB-1",
        Some(count),
        403,
    )
    .await;
    let negative = json!({ "quantity": -1 });
    let problem = c
        .expect(
            Staff,
            put.clone(),
            Inventory,
            "/inventory/KB-1",
            Some(negative),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["pointer"], "/quantity", "{problem}");
    c.expect(
        As(ann),
        delete.clone(),
        Inventory,
        "/inventory/TMP-1",
        None,
        403,
    )
    .await;
    c.expect(
        Staff,
        delete.clone(),
        Inventory,
        "/inventory/TMP-1",
        None,
        204,
    )
    .await;
    c.expect(
        Staff,
        delete.clone(),
        Inventory,
        "/inventory/TMP-1",
        None,
        404,
    )
    .await;
}

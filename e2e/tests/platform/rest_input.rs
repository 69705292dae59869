//! Bad input gets the right 4xx as problem+json and changes nothing.

use crate::helpers::{assert_problem, spawn_app};
use cartflow_events::Service;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// One bad `POST /cart/items` and the status it must get.
struct Case {
    name: &'static str,
    customer: Option<String>,
    content_type: Option<&'static str>,
    body: String,
    expected: StatusCode,
}

impl Case {
    fn new(
        name: &'static str,
        customer: Option<String>,
        content_type: Option<&'static str>,
        body: &str,
        expected: StatusCode,
    ) -> Case {
        Case {
            name,
            customer,
            content_type,
            body: body.into(),
            expected,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cart_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = Uuid::new_v4();
    // The customer has a cart with one line; nothing below may alter it.
    let before = app.add(customer, "KB-1", 1).await;
    let items_url = format!("{}/cart/items", app.url(Service::Cart));
    let valid = r#"{"product_sku":"KB-1","quantity":1}"#;
    let oversized = format!(
        r#"{{"product_sku":"KB-1","quantity":1,"note":"{}"}}"#,
        "x".repeat(70_000)
    );

    let json = Some("application/json");
    let me = Some(customer.to_string());
    let cases = [
        Case::new(
            "missing customer",
            None,
            json,
            valid,
            StatusCode::UNAUTHORIZED,
        ),
        Case::new(
            "customer not a UUID",
            Some("42".into()),
            json,
            valid,
            StatusCode::BAD_REQUEST,
        ),
        Case::new(
            "malformed JSON",
            me.clone(),
            json,
            r#"{"product_sku":"#,
            StatusCode::BAD_REQUEST,
        ),
        Case::new(
            "wrong content type",
            me.clone(),
            Some("text/plain"),
            valid,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        Case::new(
            "no content type",
            me.clone(),
            None,
            valid,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        Case::new(
            "zero quantity",
            me.clone(),
            json,
            r#"{"product_sku":"KB-1","quantity":0}"#,
            UNPROCESSABLE,
        ),
        Case::new(
            "negative quantity",
            me.clone(),
            json,
            r#"{"product_sku":"KB-1","quantity":-2}"#,
            UNPROCESSABLE,
        ),
        Case::new(
            "quantity not a number",
            me.clone(),
            json,
            r#"{"product_sku":"KB-1","quantity":"two"}"#,
            UNPROCESSABLE,
        ),
        Case::new(
            "unknown field",
            me.clone(),
            json,
            r#"{"product_sku":"KB-1","quantity":1,"price":1}"#,
            UNPROCESSABLE,
        ),
        Case::new(
            "bad SKU",
            me.clone(),
            json,
            r#"{"product_sku":"a b","quantity":1}"#,
            UNPROCESSABLE,
        ),
        Case::new(
            "unknown SKU",
            me.clone(),
            json,
            r#"{"product_sku":"NOPE-9","quantity":1}"#,
            StatusCode::NOT_FOUND,
        ),
        Case::new(
            "oversized body",
            me.clone(),
            json,
            &oversized,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for case in cases {
        let mut request = app.http.post(&items_url).body(case.body);
        if let Some(c) = case.customer {
            request = request.header("X-Customer-Id", c);
        }
        if let Some(t) = case.content_type {
            request = request.header("Content-Type", t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), case.expected, "{}", case.name);
        assert_problem(response, case.expected).await;
    }

    // The checkout reads its body raw: over the limit it is a problem too, and card
    // data is refused as such whatever the content type says.
    let convert_url = format!("{}/cart/convert-to-order", app.url(Service::Cart));
    for (name, content_type, body, expected) in [
        (
            "oversized checkout",
            "application/json",
            oversized.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "card data as text",
            "text/plain",
            "4242 4242 4242 4242".to_string(),
            UNPROCESSABLE,
        ),
    ] {
        let response = app
            .http
            .post(&convert_url)
            .header("X-Customer-Id", customer.to_string())
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{name}");
        let detail = assert_problem(response, expected).await;
        assert!(
            !cartflow_api::payment::holds_card_number(&detail),
            "{name}: {detail}"
        );
    }

    let line_too_big = app.add_item(customer, "KB-1", 1000).await;
    assert_problem(line_too_big, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_problem(
        app.remove_item(customer, "MS-404").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let after: Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(after, serde_json::to_value(&before).unwrap());
    let carts = app.count(Service::Cart, "SELECT count(*) FROM carts").await;
    assert_eq!(carts, 1);
    let events = app
        .count(Service::Cart, "SELECT count(*) FROM outbox")
        .await;
    assert_eq!(events, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_catalog_and_stock_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let products = format!("{}/products", app.url(Service::Product));
    let inventory = format!("{}/inventory", app.url(Service::Inventory));
    let refused = [
        (
            &products,
            json!({ "sku": "KB-1", "name": "Again", "price_cents": 1 }),
            StatusCode::CONFLICT,
        ),
        (
            &products,
            json!({ "sku": "NEW-1", "name": "New", "price_cents": -1 }),
            UNPROCESSABLE,
        ),
        (
            &products,
            json!({ "sku": "NEW-1", "name": " ", "price_cents": 1 }),
            UNPROCESSABLE,
        ),
        (
            &products,
            json!({ "sku": "NEW-1", "name": "New" }),
            UNPROCESSABLE,
        ),
        (
            &inventory,
            json!({ "sku": "KB-1", "quantity": 5 }),
            StatusCode::CONFLICT,
        ),
        (
            &inventory,
            json!({ "sku": "NEW-1", "quantity": -5 }),
            UNPROCESSABLE,
        ),
    ];
    for (url, body, expected) in refused {
        let response = app.staff.post(url).json(&body).send().await.unwrap();
        assert_problem(response, expected).await;
    }
    let set = app
        .staff
        .put(format!("{inventory}/KB-1"))
        .json(&json!({ "quantity": -1 }))
        .send()
        .await
        .unwrap();
    assert_problem(set, StatusCode::UNPROCESSABLE_ENTITY).await;
    let missing = app
        .http
        .get(format!("{products}/NEW-1"))
        .send()
        .await
        .unwrap();
    assert_problem(missing, StatusCode::NOT_FOUND).await;
    let no_route = app
        .http
        .get(format!("{}/nowhere", app.url(Service::Order)))
        .send()
        .await
        .unwrap();
    assert_problem(no_route, StatusCode::NOT_FOUND).await;

    let product: Value = app
        .http
        .get(format!("{products}/KB-1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(product["name"], "Product KB-1");
    assert_eq!(product["price_cents"], 1000);
    assert_eq!(app.stock("KB-1").await, (10, 0));
    let listed: Value = app
        .http
        .get(&products)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    app.stop().await;
}

/// A cart holds at most 100 lines: the 101st is refused and changes nothing, while more
/// of a line the full cart has is still taken. (Cart adds the line first and checks
/// after, rolling back on a refusal, so this is what shows the rollback works.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cart_takes_more_of_a_line_but_no_new_line() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    app.create_product("MS-1", 500, 10).await;
    let customer = Uuid::new_v4();
    let first = app.add(customer, "KB-1", 1).await;
    // 99 more lines written straight to the table: 100 in all, the most a cart holds.
    sqlx::query(
        "INSERT INTO cart_items (cart_id, product_sku, quantity, unit_price_cents)
         SELECT $1, 'FILL-' || n, 1, 100 FROM generate_series(1, 99) AS n",
    )
    .bind(first.id)
    .execute(app.pool(Service::Cart))
    .await
    .unwrap();
    let full: Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(full["items"].as_array().unwrap().len(), 100);

    let refused = app.add_item(customer, "MS-1", 1).await;
    assert_problem(refused, UNPROCESSABLE).await;
    let after: Value = app.cart(customer).await.json().await.unwrap();
    assert_eq!(after, full, "a refused line changes nothing");

    let more = app.add(customer, "KB-1", 2).await;
    assert_eq!(more.items.len(), 100);
    // The answer is read in the statement that adds: the line keeps its place (first
    // added, first shown) with its new quantity, and the other lines follow in order.
    assert_eq!(more.items[0].product_sku.as_str(), "KB-1");
    assert_eq!(more.items[0].quantity, 3);
    assert_eq!(more.items[1].product_sku.as_str(), "FILL-1");
    assert_eq!(more.total_cents, 3 * 1000 + 99 * 100);
    app.stop().await;
}

//! What a checkout's body carries: card numbers are refused and kept nowhere, and a
//! checkout without an address ships to the customer's saved one.

use super::paying_with;
use crate::helpers::{assert_problem, eventually, spawn_app};
use cart_service::domain::CartStatus;
use cartflow_events::Service;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// A checkout's body never carries card data: refused before anything is kept, and
/// nothing shaped like a card number reaches any service's tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_numbers_are_refused_and_kept_nowhere() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = Uuid::new_v4();
    app.add(customer, "KB-1", 1).await;
    let mut address = paying_with("pm_card_visa")["shipping_address"].clone();
    for body in [
        json!({ "payment_method": "4242 4242 4242 4242", "shipping_address": address }),
        json!({ "payment_method": "pm_card_visa", "card": 4242424242424242u64, "shipping_address": address }),
        json!({ "payment_method": "pm_card_visa", "shipping_address": address, "note": "5555-5555-5555-4444" }),
        // Glued to a word, a card number is still one.
        json!({ "payment_method": "pm_card4242424242424242", "shipping_address": address }),
        json!({ "payment_method": "pm_card_visa",
                "shipping_address": { "name": "G", "line1": "1 Elm St", "line2": "Apt4242424242424242",
                                      "city": "C", "postal_code": "1", "country": "US" } }),
    ] {
        let detail = assert_problem(
            app.convert_with(customer, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(detail.contains("card number"), "{detail}");
        assert!(
            !cartflow_api::payment::holds_card_number(&detail),
            "the answer repeats no card data: {detail}"
        );
    }
    // Escaped digits are digits: a card number spelled with \u escapes is refused too,
    // and no answer quotes it.
    let escaped = r#"{"payment_method":"pm_card_visa","shipping_address":{"name":"E","line1":"\u00344242424242424242","city":"C","postal_code":"1","country":"US"}}"#;
    let response = app
        .as_customer(
            app.http
                .post(format!("{}/cart/convert-to-order", app.url(Service::Cart))),
            customer,
        )
        .header("content-type", "application/json")
        .body(escaped)
        .send()
        .await
        .unwrap();
    let detail = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(detail.contains("card number"), "{detail}");
    let missing = assert_problem(
        app.convert_with(customer, &json!({ "shipping_address": address }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(missing.contains("payment_method is required"), "{missing}");
    let nowhere = assert_problem(
        app.convert_with(customer, &json!({ "payment_method": "pm_card_visa" }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        nowhere.contains("shipping_address is required"),
        "{nowhere}"
    );
    address["country"] = json!("Narnia");
    let bad = assert_problem(
        app.convert_with(
            customer,
            &json!({ "payment_method": "pm_card_visa", "shipping_address": address }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(bad.contains("ISO 3166-1"), "{bad}");
    let cart = app.cart_client().cart(customer).await.unwrap();
    assert_eq!(cart.status, CartStatus::Open, "nothing changed");
    // A good checkout goes through, and no table of any service holds card data.
    app.checkout(customer, "KB-1", 1).await;
    for service in cartflow_platform::SERVICES {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(app.pool(service))
        .await
        .unwrap();
        for table in tables {
            if table.starts_with("_sqlx") {
                continue; // migration versions, not data
            }
            let rows: String = sqlx::query_scalar(&format!(
                "SELECT coalesce(string_agg(t::text, ' '), '') FROM \"{table}\" t"
            ))
            .fetch_one(app.pool(service))
            .await
            .unwrap();
            assert!(
                !cartflow_api::payment::holds_card_number_among_ids(&rows),
                "{service}.{table} holds something shaped like a card number"
            );
        }
    }
    app.stop().await;
}

/// A checkout that names no address ships to the customer's saved one (the cart's copy,
/// kept from the customer's events); a changed address is used from then on; with none
/// saved the checkout is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_without_an_address_ships_to_the_customers_saved_one() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let address = |city: &str| {
        json!({ "name": "Ann Saved", "line1": "2 Elm Street", "city": city,
                "postal_code": "54321", "country": "us" })
    };
    let customers = format!("{}/customers", app.url(Service::Customer));
    let created: Value = app
        .staff
        .post(&customers)
        .json(&json!({ "name": "Ann", "email": "ann@example.com", "address": address("Shelbyville") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["address"]["country"], "US",
        "checked and normalised: {created}"
    );
    let ann: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let saved_city = |city: &'static str| {
        let app = &app;
        async move {
            eventually(&format!("the cart's copy says {city}"), || async {
                let sql = format!(
                    "SELECT count(*) FROM saved_addresses WHERE customer_id = '{ann}'
                       AND address->>'city' = '{city}'"
                );
                (app.count(Service::Cart, &sql).await == 1).then_some(())
            })
            .await
        }
    };
    let pay_only = json!({ "payment_method": "pm_card_visa" });
    let ships_to = |city: &'static str| {
        let (app, pay_only) = (&app, pay_only.clone());
        async move {
            app.add(ann, "KB-1", 1).await;
            let response = app.convert_with(ann, &pay_only).await;
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let cart = app.settled_cart(ann).await;
            assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");
            let order = app
                .get_json(
                    Service::Order,
                    &format!("/orders/{}", cart.order_id.unwrap()),
                )
                .await;
            assert_eq!(order["shipping_address"]["city"], city, "{order}");
            assert_eq!(order["shipping_address"]["name"], "Ann Saved", "{order}");
        }
    };
    saved_city("Shelbyville").await;
    ships_to("Shelbyville").await;

    // Changed: the next checkout ships to the new address; one that names an address
    // ships there.
    let fields =
        |address: Value| json!({ "name": "Ann", "email": "ann@example.com", "address": address });
    let own = format!("{customers}/{ann}");
    let put = app
        .staff
        .put(&own)
        .json(&fields(address("Capital City")))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    saved_city("Capital City").await;
    ships_to("Capital City").await;
    app.add(ann, "KB-1", 1).await;
    assert_eq!(
        app.convert_with(ann, &paying_with("pm_card_visa"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let order_id = app.settled_cart(ann).await.order_id.unwrap();
    let order = app
        .get_json(Service::Order, &format!("/orders/{order_id}"))
        .await;
    assert_eq!(
        order["shipping_address"]["city"], "Springfield",
        "the request's own: {order}"
    );

    // A card number in an address is refused, and nothing changes.
    let mut carded = address("Capital City");
    carded["line2"] = json!("4242 4242 4242 4242");
    let refused = app
        .staff
        .put(&own)
        .json(&fields(carded))
        .send()
        .await
        .unwrap();
    let detail = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(detail.contains("card number"), "{detail}");

    // Removed: a checkout without an address is refused, naming the field, and the cart
    // stays open.
    let removed = json!({ "name": "Ann", "email": "ann@example.com" });
    let put = app.staff.put(&own).json(&removed).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    eventually("the cart's copy forgets the address", || async {
        let sql = format!(
            "SELECT count(*) FROM saved_addresses WHERE customer_id = '{ann}' AND address IS NULL"
        );
        (app.count(Service::Cart, &sql).await == 1).then_some(())
    })
    .await;
    app.add(ann, "KB-1", 1).await;
    let response = app.convert_with(ann, &pay_only).await;
    let problem: Value = {
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        response.json().await.unwrap()
    };
    assert_eq!(
        problem["errors"][0]["pointer"], "/shipping_address",
        "{problem}"
    );
    let cart = app.cart_client().cart(ann).await.unwrap();
    assert_eq!(cart.status, CartStatus::Open, "nothing changed");
    app.stop().await;
}

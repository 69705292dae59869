//! Payment in the checkout, end to end: the real emulator, PostgreSQL, and the gateway
//! sandbox over HTTP. An order exists only with a held authorization; a declined card
//! gives the stock back and leaves the cart to pay another way; a cancelled order is
//! refunded once; a provider that is down past the expiry ends the checkout with
//! nothing held; and the books balance three ways (provider, payment records, orders).

use crate::burst::assert_payment_books;
use crate::helpers::{
    TestApp, assert_problem, eventually, eventually_within, spawn_app, spawn_app_with,
};
use cart_service::domain::CartStatus;
use cartflow_api::notification::Kind;
use cartflow_api::payment::{Payment, PaymentStatus};
use cartflow_events::Service;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

fn paying_with(token: &str) -> Value {
    serde_json::to_value(cartflow_api::cart::CheckoutRequest::paid_with(token)).unwrap()
}

async fn payments_of(app: &TestApp, query: &str) -> Vec<Payment> {
    let page = app
        .get_json(Service::Payment, &format!("/payments?{query}"))
        .await;
    assert!(page["next_page_token"].is_null(), "{page}");
    serde_json::from_value(page["items"].clone()).unwrap()
}

/// Waits until the customer has `n` sent notifications of `kind` (email and push).
async fn told(app: &TestApp, customer: Uuid, kind: Kind, n: usize) {
    eventually(&format!("{n} {kind} notifications sent"), || async {
        let sent = app
            .notifications(customer)
            .await
            .iter()
            .filter(|x| x.kind == kind && x.status == cartflow_api::notification::Status::Sent)
            .count();
        (sent == n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_card_makes_the_order_captures_once_and_sends_a_receipt() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1250, 10).await;
    let customer = app.create_customer("Jane Doe", "jane@example.com").await;
    app.wait_for_contact(customer, "jane@example.com").await;
    let order_id = app.checkout(customer, "KB-1", 2).await;

    let order = app
        .get_json(Service::Order, &format!("/orders/{order_id}"))
        .await;
    assert_eq!(order["shipping_address"]["city"], "Springfield", "{order}");
    let payment_id = order["payment_id"]
        .as_str()
        .expect("the order names its payment")
        .to_string();
    let payment = eventually("the capture", || async {
        let payments = payments_of(&app, &format!("order_id={order_id}")).await;
        payments
            .into_iter()
            .find(|p| p.status == PaymentStatus::Captured)
    })
    .await;
    assert_eq!(payment.id.to_string(), payment_id);
    assert_eq!((payment.amount_cents, payment.captured_cents), (2500, 2500));
    let card = payment.card.expect("brand and last four");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
    told(&app, customer, Kind::PaymentReceipt, 2).await;
    told(&app, customer, Kind::OrderConfirmed, 2).await;
    let ledger = app.gateway.sandbox().ledger();
    assert_eq!(
        (ledger.counts.authorizations, ledger.counts.captures),
        (1, 1),
        "{ledger:?}"
    );
    assert_payment_books(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_returns_the_stock_and_another_card_converts() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    for (token, code) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
    ] {
        let customer = app
            .create_customer("Dee Clined", &format!("{code}@example.com"))
            .await;
        app.wait_for_contact(customer, &format!("{code}@example.com"))
            .await;
        app.add(customer, "KB-1", 3).await;
        let converting = app.convert_with(customer, &paying_with(token)).await;
        assert_eq!(converting.status(), StatusCode::ACCEPTED);
        let cart = app.settled_cart(customer).await;
        assert_eq!(cart.status, CartStatus::PaymentDeclined, "{cart:?}");
        let rejection = cart.rejection.expect("why");
        assert_eq!(rejection.reason, "card_declined");
        assert_eq!(rejection.decline_code.as_deref(), Some(code));
        eventually("the stock back, exactly", || async {
            (app.stock("KB-1").await == (10, 0)).then_some(())
        })
        .await;
        assert!(
            app.orders(&format!("customer_id={customer}"))
                .await
                .is_empty(),
            "no order"
        );
        told(&app, customer, Kind::PaymentDeclined, 2).await;

        // The cart is unlocked: pay with another card.
        let retry = app
            .convert_with(customer, &paying_with("pm_card_visa"))
            .await;
        assert_eq!(retry.status(), StatusCode::ACCEPTED);
        let cart = app.settled_cart(customer).await;
        assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");
        assert_eq!(app.stock("KB-1").await, (7, 3));
        app.cancel(&cart.order_id.unwrap().to_string(), None).await;
        eventually("the cancelled order's stock back", || async {
            (app.stock("KB-1").await == (10, 0)).then_some(())
        })
        .await;
        // Told of the decline once, however the saga went on.
        told(&app, customer, Kind::PaymentDeclined, 2).await;
    }
    let ledger = app.gateway.sandbox().ledger();
    assert_eq!(
        (ledger.counts.declines, ledger.counts.authorizations),
        (2, 2),
        "{ledger:?}"
    );
    assert_payment_books(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_is_refunded_once() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = app.create_customer("Ray Fund", "ray@example.com").await;
    app.wait_for_contact(customer, "ray@example.com").await;
    let order_id = app.checkout(customer, "KB-1", 3).await;
    eventually("the capture", || async {
        let payments = payments_of(&app, &format!("order_id={order_id}")).await;
        payments
            .iter()
            .any(|p| p.status == PaymentStatus::Captured)
            .then_some(())
    })
    .await;
    assert_eq!(app.cancel(&order_id, None).await.status(), StatusCode::OK);
    let refunded = eventually("the refund", || async {
        let payments = payments_of(&app, &format!("order_id={order_id}")).await;
        payments
            .into_iter()
            .find(|p| p.status == PaymentStatus::Refunded)
    })
    .await;
    assert_eq!(refunded.refunded_cents, 3000);
    assert_problem(app.cancel(&order_id, None).await, StatusCode::CONFLICT).await;
    eventually("the stock back", || async {
        (app.stock("KB-1").await == (10, 0)).then_some(())
    })
    .await;
    told(&app, customer, Kind::PaymentRefunded, 2).await;
    let ledger = app.gateway.sandbox().ledger();
    assert_eq!(
        (
            ledger.counts.refunds,
            ledger.totals.refunded,
            ledger.totals.net
        ),
        (1, 3000, 0),
        "{ledger:?}"
    );
    assert_eq!(app.stock("KB-1").await, (10, 0), "stock back once");
    assert_payment_books(&app).await;
    app.stop().await;
}

/// The provider is down for longer than the checkout may take: the checkout ends
/// `checkout_expired` with its stock back, and once the provider answers again the
/// authorization that was out is released: nothing stays held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_past_the_expiry_ends_the_checkout_with_nothing_held() {
    let app = spawn_app_with(&[
        ("CHECKOUT_EXPIRE_MS", "2000"),
        ("CHECKOUT_WATCH_MS", "100"),
        ("PROVIDER_RETRIES", "0"),
        ("PROVIDER_BREAKER_OPEN_MS", "300"),
    ])
    .await;
    app.create_product("KB-1", 1000, 10).await;
    app.gateway.sandbox().set_down(true);
    let customer = Uuid::new_v4();
    app.add(customer, "KB-1", 2).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app
        .settled_carts(&[customer], Duration::from_secs(20))
        .await
        .remove(0);
    assert_eq!(cart.status, CartStatus::CheckoutExpired, "{cart:?}");
    eventually("the stock back", || async {
        (app.stock("KB-1").await == (10, 0)).then_some(())
    })
    .await;
    assert!(
        app.orders(&format!("customer_id={customer}"))
            .await
            .is_empty()
    );
    app.gateway.sandbox().set_down(false);
    let checkout_id = cart.checkout_id.unwrap();
    eventually_within(
        Duration::from_secs(45),
        "the late authorization released",
        || async {
            let payments = payments_of(&app, &format!("checkout_id={checkout_id}")).await;
            payments
                .iter()
                .any(|p| p.status == PaymentStatus::Voided)
                .then_some(())
        },
    )
    .await;
    let ledger = app.gateway.sandbox().ledger();
    assert_eq!(
        ledger.totals.capturable + ledger.totals.captured,
        0,
        "nothing held or taken: {ledger:?}"
    );
    app.stop().await;
}

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
                !cartflow_api::payment::holds_card_number(&rows),
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

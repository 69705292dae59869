//! A checkout's payment end to end: an approved card captured once with a receipt, a
//! declined one and another card, a refund once, and a provider down past the expiry;
//! `cartflow payments reconcile` agreeing, then naming money no record knows of.

use super::{paying_with, payments_of, told};
use crate::burst::assert_payment_books;
use crate::helpers::{
    assert_problem, cartflow_binary, eventually, eventually_within, spawn_app, spawn_app_with,
};
use cart_service::domain::CartStatus;
use cartflow_api::notification::Kind;
use cartflow_api::payment::PaymentStatus;
use cartflow_events::Service;
use reqwest::StatusCode;
use std::time::Duration;
use uuid::Uuid;

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

    // The operator's reconciliation agrees, and exits 0.
    let payment_url = format!("payment={}", app.url(Service::Payment));
    let reconcile = ["payments", "reconcile", "--service-url", &payment_url];
    let agreed = tokio::process::Command::new(cartflow_binary())
        .args(reconcile)
        .args(["-o", "json"])
        .output()
        .await
        .unwrap();
    assert!(agreed.status.success(), "{agreed:?}");
    let report: serde_json::Value = serde_json::from_slice(&agreed.stdout).unwrap();
    assert_eq!(report["compared"], 1, "{report}");
    assert_eq!(report["differences"], serde_json::json!([]), "{report}");
    // Money the provider holds that no record knows of: a difference, named, exit 5.
    let orphan = reqwest::Client::new()
        .post(format!("{}/v1/payment_intents", app.gateway.url()))
        .bearer_auth("sk_test_cartflow_sandbox")
        .header("Idempotency-Key", "made-outside-cartflow")
        .form(&[
            ("amount", "700"),
            ("currency", "usd"),
            ("payment_method", "pm_card_visa"),
            ("capture_method", "manual"),
            ("confirm", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(orphan.status(), StatusCode::OK);
    let orphan: serde_json::Value = orphan.json().await.unwrap();
    let found = tokio::process::Command::new(cartflow_binary())
        .args(reconcile)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(5), "{text}");
    assert!(
        text.contains(&format!("DIFFERENCE {}", orphan["id"].as_str().unwrap())),
        "{text}"
    );
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

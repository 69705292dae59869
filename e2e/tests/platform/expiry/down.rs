//! A service down past the expiry: with inventory down the checkout expires and its late
//! request reserves nothing; with order down the reservation is released and no order
//! made.

use super::{EXPIRE, QUICK_EXPIRY, backlog_consumed, cart_json, held_reservations, told};
use crate::burst::assert_payment_books;
use crate::helpers::{cartflow, eventually, spawn_app_with};
use cart_service::domain::CartStatus;
use cartflow_events::Service;
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_inventory_down_the_checkout_expires_and_its_late_request_reserves_nothing() {
    let mut app = spawn_app_with(QUICK_EXPIRY).await;
    app.create_product("EXP-1", 1000, 10).await;
    let customer = app.create_customer("Eve", "eve@example.com").await;
    app.wait_for_contact(customer, "eve@example.com").await;
    app.platform_mut()
        .stop_service(Service::Inventory)
        .await
        .unwrap();

    app.add(customer, "EXP-1", 2).await;
    let converted = std::time::Instant::now();
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::CheckoutExpired, "{cart:?}");
    // It ends by its expiry (1.5 s), give or take the watchdog's look (100 ms), two
    // hops through order and a margin for two busy cores; not before it.
    let took = converted.elapsed();
    assert!(
        took >= EXPIRE,
        "ended {took:?} after the convert, before its expiry"
    );
    assert!(
        took < EXPIRE + Duration::from_secs(5),
        "ended {took:?} after the convert; CHECKOUT_EXPIRE_MS is {EXPIRE:?}"
    );
    eventually("the customer told by email and push", || async {
        (told(&app, customer, "checkout_expired").await == (1, 1)).then_some(())
    })
    .await;

    // Inventory returns to a backlog of requests for the given-up checkout and the
    // expiry itself, in whatever order Pub/Sub delivers them.
    app.platform_mut()
        .start_service(Service::Inventory)
        .await
        .unwrap();
    backlog_consumed(&app, Service::Cart, Service::Inventory, "order-requested").await;
    backlog_consumed(&app, Service::Order, Service::Inventory, "checkout.expired").await;
    backlog_consumed(&app, Service::Inventory, Service::Order, "stock-available").await;
    assert_eq!(held_reservations(&app).await, 0);
    assert_eq!(app.stock("EXP-1").await, (10, 0));
    let cart_id = &cart.id.to_string();
    assert!(app.orders(&format!("cart_id={cart_id}")).await.is_empty());

    // The same cart checks out again under a new checkout id, and converts.
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let retried = app.settled_cart(customer).await;
    assert_eq!(retried.status, CartStatus::Converted, "{retried:?}");
    assert_eq!(retried.id, cart.id);
    assert_ne!(retried.checkout_id, cart.checkout_id);
    assert_eq!(app.orders(&format!("cart_id={cart_id}")).await.len(), 1);
    assert_eq!(app.stock("EXP-1").await, (8, 2));
    // The receipt follows the capture, after the confirmation: wait for both.
    let eves_mails = || {
        app.mails()
            .iter()
            .filter(|m| m.to.iter().any(|to| to == "eve@example.com"))
            .count()
    };
    eventually("the confirmation and the receipt", || async {
        (told(&app, customer, "order_confirmed").await == (1, 1)
            && told(&app, customer, "payment_receipt").await == (1, 1)
            && eves_mails() >= 3)
            .then_some(())
    })
    .await;
    assert_eq!(told(&app, customer, "checkout_expired").await, (1, 1));
    let mails = eves_mails();
    assert_eq!(
        mails, 3,
        "one expiry email, one confirmation and one receipt"
    );

    // The timeline of the given-up checkout shows the expiry and the compensation.
    let (timeline, _) = cartflow(&app, &["timeline", cart_id]).await;
    for step in [
        "checkout.expire-requested",
        "checkout.expired",
        "order-requested",
    ] {
        assert!(timeline.contains(step), "{step} missing from\n{timeline}");
    }
    // Inventory's side: whichever of the late request and the expiry it took first,
    // nothing stays reserved, and the timeline says which way.
    assert!(
        timeline.lines().any(|l| l.contains("inventory")
            && (l.contains("nothing will be reserved") || l.contains("reservation released"))),
        "inventory's compensation missing from\n{timeline}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_order_down_past_the_expiry_the_reservation_is_released_and_no_order_made() {
    let mut app = spawn_app_with(QUICK_EXPIRY).await;
    app.create_product("EXP-2", 1000, 10).await;
    let customer = app.convert_with_order_down("EXP-2", 3).await;
    eventually("the reservation", || async {
        (app.stock("EXP-2").await == (7, 3)).then_some(())
    })
    .await;
    // Past the expiry the cart asks to give up; only the arbiter can answer.
    let asked = "SELECT count(*) FROM outbox WHERE topic = 'checkout.expire-requested'";
    eventually("the cart asking to give up", || async {
        (app.count(Service::Cart, asked).await >= 1).then_some(())
    })
    .await;
    assert_eq!(
        cart_json(&app, customer).await["status"],
        "checkout_pending"
    );

    app.platform_mut()
        .start_service(Service::Order)
        .await
        .unwrap();
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::CheckoutExpired, "{cart:?}");
    eventually("the reservation released", || async {
        (app.stock("EXP-2").await == (10, 0)).then_some(())
    })
    .await;
    backlog_consumed(&app, Service::Payment, Service::Order, "payment.authorized").await;
    backlog_consumed(&app, Service::Order, Service::Inventory, "checkout.expired").await;
    backlog_consumed(&app, Service::Order, Service::Payment, "checkout.expired").await;
    assert_eq!(app.stock("EXP-2").await, (10, 0));
    assert_eq!(held_reservations(&app).await, 0);
    assert!(app.orders("").await.is_empty());
    // The authorization made while order was down is released: nothing held, nothing taken.
    assert_payment_books(&app).await;

    // The timeline shows the compensation: inventory consumed the expiry and released,
    // as its handler noted on the consumption.
    let cart_id = &cart.id.to_string();
    let (timeline, _) = cartflow(&app, &["timeline", cart_id]).await;
    assert!(
        timeline.lines().any(|l| l.contains("inventory")
            && l.contains("consumed")
            && l.contains("checkout.expired")
            && l.contains("reservation released, stock returned")),
        "inventory consuming checkout.expired and releasing, in\n{timeline}"
    );
    app.stop().await;
}

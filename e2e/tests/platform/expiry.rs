//! Every checkout ends: past `CHECKOUT_EXPIRE_MS` the cart asks order (the arbiter) to
//! give the checkout up. Either the order exists and the checkout converts, or order
//! records the checkout expired and announces it: the cart unlocks, the customer is
//! told once, and inventory releases (or never makes) the checkout's reservation.

use crate::burst::{assert_payment_books, shop, shoppers};
use crate::helpers::{
    TestApp, cartflow, eventually, eventually_within, spawn_app_duplicating, spawn_app_with,
};
use cart_service::domain::CartStatus;
use cartflow_events::Service;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use uuid::Uuid;

/// Re-sends every 300 ms, gives up after 1.5 s.
const EXPIRE: Duration = Duration::from_millis(1500);
const QUICK_EXPIRY: &[(&str, &str)] = &[
    ("CHECKOUT_DEADLINE_MS", "300"),
    ("CHECKOUT_WATCH_MS", "100"),
    ("CHECKOUT_EXPIRE_MS", "1500"),
];

async fn cart_json(app: &TestApp, customer: Uuid) -> Value {
    app.cart(customer).await.json().await.unwrap()
}

/// (email, push) notifications of `kind` for `customer` that were sent.
async fn told(app: &TestApp, customer: Uuid, kind: &str) -> (i64, i64) {
    let sent = |channel: &'static str| {
        format!(
            "SELECT count(*) FROM notifications WHERE customer_id = '{customer}'
             AND kind = '{kind}' AND channel = '{channel}' AND status = 'sent'"
        )
    };
    (
        app.count(Service::Notification, &sent("email")).await,
        app.count(Service::Notification, &sent("push")).await,
    )
}

/// Waits until `service` has consumed every event of `topic` that `publisher` wrote
/// (there may be none).
async fn backlog_consumed(app: &TestApp, publisher: Service, service: Service, topic: &str) {
    let published = format!("SELECT count(*) FROM outbox WHERE topic = '{topic}'");
    let consumed = format!("SELECT count(*) FROM processed_messages WHERE event_type = '{topic}'");
    eventually(&format!("{service} to consume every {topic}"), || async {
        let published = app.count(publisher, &published).await;
        (app.count(service, &consumed).await >= published).then_some(())
    })
    .await;
}

async fn held_reservations(app: &TestApp) -> i64 {
    app.count(
        Service::Inventory,
        "SELECT count(*) FROM reservations WHERE status = 'reserved'",
    )
    .await
}

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
    backlog_consumed(
        &app,
        Service::Inventory,
        Service::Payment,
        "stock-available",
    )
    .await;
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

/// A burst of one-unit checkouts, one per shopper, spread over the SKUs; returns how
/// long each took from convert to its order (`None` for a checkout without an order).
async fn burst(app: &TestApp, customers: &[Uuid]) -> Vec<Option<Duration>> {
    let accepted = AtomicUsize::new(0);
    let started = join_all(customers.iter().enumerate().map(|(i, &c)| {
        let sku = format!("RACE-{}", i % SKUS);
        let accepted = &accepted;
        async move {
            shop(app, c, &sku, accepted).await;
            chrono::Utc::now()
        }
    }))
    .await;
    let carts = app.settled_carts(customers, Duration::from_secs(60)).await;
    let mut took = Vec::new();
    for (cart, started) in carts.iter().zip(started) {
        let created = match cart.order_id {
            Some(id) => Some(app.order(id).await.created_at),
            None => None,
        };
        took.push(created.map(|c| (c - started).to_std().unwrap_or_default()));
    }
    took
}

const SKUS: usize = 5;

/// The expiry tuned to land on the order creation: a first burst measures how long a
/// checkout takes to reach its order on this machine, right now; the cart then gives
/// checkouts up after the median of that, and a second burst races every expiry
/// against its order. Each checkout ends converted with one order and its stock
/// held, or expired with no order and nothing held: never both, never neither. A round
/// that went all one way (the machine's pace changed) retunes the expiry and races
/// again, so that the test does see both endings.
async fn expiry_races_order_creation(every_message_twice: bool) {
    const SHOPPERS: usize = 50;
    const ROUNDS: usize = 4;
    const STOCK: i32 = 200;
    let settings = [
        ("CHECKOUT_DEADLINE_MS", "5000"),
        ("CHECKOUT_WATCH_MS", "10"),
    ];
    let mut app = if every_message_twice {
        spawn_app_duplicating(&settings).await
    } else {
        spawn_app_with(&settings).await
    };
    for s in 0..SKUS {
        app.create_product(&format!("RACE-{s}"), 500, STOCK).await;
    }
    let customers = shoppers(&app, (1 + ROUNDS) * SHOPPERS).await;
    let (calibration, racers) = customers.split_at(SHOPPERS);
    let mut took: Vec<Duration> = burst(&app, calibration)
        .await
        .into_iter()
        .map(|t| t.expect("no expiry yet: every checkout converts"))
        .collect();
    took.sort();
    let mut expire_after = took[took.len() / 2].max(Duration::from_millis(20));
    eprintln!(
        "checkouts took {:?}..{:?}, median {expire_after:?}",
        took[0],
        took[took.len() - 1]
    );
    let (mut converted, mut expired) = (0, 0);
    for round in racers.chunks(SHOPPERS) {
        let platform = app.platform_mut();
        platform.stop_service(Service::Cart).await.unwrap();
        platform.set_service_env(
            Service::Cart,
            "CHECKOUT_EXPIRE_MS",
            &expire_after.as_millis().to_string(),
        );
        platform.start_service(Service::Cart).await.unwrap();
        burst(&app, round).await;
        let (round_converted, round_expired) = race_outcomes(&app, round).await;
        eprintln!(
            "racing an expiry of {expire_after:?}: {round_converted} converted, {round_expired} expired"
        );
        converted += round_converted;
        expired += round_expired;
        if converted > 0 && expired > 0 {
            break;
        }
        expire_after = if round_converted == 0 {
            expire_after * 3 / 2
        } else {
            (expire_after / 2).max(Duration::from_millis(5))
        };
    }
    assert!(
        converted > 0 && expired > 0,
        "the expiry never raced an order: {converted} converted, {expired} expired"
    );
    if every_message_twice {
        let skipped = app
            .count(
                Service::Order,
                "SELECT coalesce(sum(duplicate_deliveries), 0)::bigint FROM processed_messages",
            )
            .await;
        assert!(skipped > 0, "the race ran with every event delivered twice");
    }
    let converted = converted + SHOPPERS; // and every calibration checkout
    // Inventory follows: whatever it reserved for an expired checkout it releases.
    eventually_within(Duration::from_secs(60), "the books to balance", || async {
        let mut held = 0;
        for s in 0..SKUS {
            let (available, reserved) = app.stock(&format!("RACE-{s}")).await;
            if available + reserved != i64::from(STOCK) {
                return None;
            }
            held += reserved;
        }
        let ordered = app
            .count(
                Service::Order,
                "SELECT coalesce(sum(quantity), 0)::bigint FROM order_items",
            )
            .await;
        (held == ordered
            && ordered == converted as i64
            && held_reservations(&app).await == converted as i64)
            .then_some(())
    })
    .await;
    // Told once per outcome, by email and push, however often events came.
    eventually_within(Duration::from_secs(60), "every outcome told", || async {
        let sent = |kind: &'static str| {
            let app = &app;
            async move {
                app.count(
                    Service::Notification,
                    &format!("SELECT count(*) FROM notifications WHERE kind = '{kind}' AND status = 'sent'"),
                )
                .await
            }
        };
        (sent("order_confirmed").await == 2 * converted as i64
            && sent("checkout_expired").await == 2 * expired as i64)
            .then_some(())
    })
    .await;
    // The race spans the authorization too (payment authorizes between the
    // reservation and the order): every converted checkout captured once, every
    // expired one's authorization voided, nothing held, the three books agreeing.
    assert_payment_books(&app).await;
    let released = "SELECT count(*) FROM payments WHERE status IN ('voided', 'abandoned')";
    eventually(
        "each expired checkout's payment released, or never asked",
        || async { (app.count(Service::Payment, released).await == expired as i64).then_some(()) },
    )
    .await;
    app.stop().await;
}

/// How the checkouts of `customers` ended, as (converted, expired); panics on a
/// checkout that ended both ways or neither.
async fn race_outcomes(app: &TestApp, customers: &[Uuid]) -> (usize, usize) {
    let carts = app.settled_carts(customers, Duration::from_secs(60)).await;
    let (mut converted, mut expired) = (0, 0);
    for cart in &carts {
        let orders = app.orders(&format!("cart_id={}", cart.id)).await;
        match cart.status {
            CartStatus::Converted => {
                assert_eq!(orders.len(), 1, "one order for {cart:?}");
                assert_eq!(Some(orders[0].id), cart.order_id);
                converted += 1;
            }
            CartStatus::CheckoutExpired => {
                assert!(orders.is_empty(), "no order for {cart:?}");
                expired += 1;
            }
            other => panic!("a checkout ended {other:?}: {cart:?}"),
        }
    }
    (converted, expired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_racing_the_order_ends_each_checkout_one_way() {
    expiry_races_order_creation(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_racing_the_order_ends_each_checkout_one_way_with_every_event_twice() {
    expiry_races_order_creation(true).await;
}

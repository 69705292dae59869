//! A burst of shoppers checking out one product, as the fault tests run it, and the
//! books they check afterwards.

use crate::helpers::{TestApp, count, eventually_within};
use cart_service::domain::{Cart, CartStatus};
use cartflow_events::Service;
use futures::future::join_all;
use reqwest::StatusCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Creates `n` customers (`shopper<i>@example.com`) and waits until notification
/// knows each one's email.
pub async fn shoppers(app: &TestApp, n: usize) -> Vec<Uuid> {
    join_all((0..n).map(|i| async move {
        let email = format!("shopper{i}@example.com");
        let id = app.create_customer(&format!("Shopper {i}"), &email).await;
        app.wait_for_contact(id, &email).await;
        id
    }))
    .await
}

/// A shopper as a real client behaves: retries while the cart is unreachable or
/// failing, and takes a 409 on convert to mean an earlier attempt got through.
/// Counts the accepted checkout in `accepted`.
pub async fn shop(app: &TestApp, customer: Uuid, sku: &str, accepted: &AtomicUsize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let cart = app.cart_client();
    loop {
        match cart.add_item(customer, sku, 1).await {
            Ok(_) => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("could not add a line: {e}"),
        }
    }
    loop {
        match cart.convert(customer).await {
            Ok(_) => break,
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("could not convert: {e}"),
        }
    }
    accepted.fetch_add(1, Ordering::SeqCst);
}

/// Emails to the shoppers (a low-stock alert may go to the stock manager too).
pub fn shopper_mails(app: &TestApp) -> usize {
    app.mails()
        .iter()
        .filter(|m| m.to.iter().any(|to| to.starts_with("shopper")))
        .count()
}

/// The books after a burst of one-unit checkouts of `sku` (initially `stock`) whose
/// carts have all settled: stock + reserved = initial, reserved = what confirmed
/// orders hold, one order per converted cart, and one email and one push per
/// outcome, none twice.
pub async fn assert_books(app: &TestApp, sku: &str, stock: i32, carts: &[Cart]) {
    let shoppers = carts.len();
    let converted = carts
        .iter()
        .filter(|c| c.status == CartStatus::Converted)
        .count();
    let rejected = shoppers - converted;
    let (available, reserved) = app.stock(sku).await;
    assert_eq!(
        available + reserved,
        i64::from(stock),
        "stock + reserved = initial"
    );
    let orders = app.orders("status=confirmed").await;
    assert_eq!(orders.len(), converted, "one order per converted cart");
    let ordered: i64 = count(
        app.pool(Service::Order),
        "SELECT coalesce(sum(quantity), 0)::bigint FROM order_items",
    )
    .await;
    assert_eq!(reserved, ordered, "reserved = what the orders hold");
    assert!(
        converted > 0 && converted <= stock as usize,
        "{converted} converted"
    );

    eventually_within(Duration::from_secs(60), "every notification sent", || async {
        let sent = |kind: &'static str| async move {
            app.count(
                Service::Notification,
                &format!("SELECT count(*) FROM notifications WHERE kind = '{kind}' AND status = 'sent'"),
            )
            .await
        };
        let confirmed = sent("order_confirmed").await;
        let rejections = sent("stock_rejected").await;
        (confirmed == 2 * converted as i64
            && rejections == 2 * rejected as i64
            && shopper_mails(app) == shoppers)
            .then_some(())
    })
    .await;
    let all = app
        .count(
            Service::Notification,
            "SELECT count(*) FROM notifications WHERE kind IN ('order_confirmed', 'stock_rejected')",
        )
        .await;
    assert_eq!(all, 2 * shoppers as i64, "no notification twice");
    assert_eq!(shopper_mails(app), shoppers, "no email twice");
}

//! A burst of shoppers checking out one product, as the fault tests run it, and the
//! books they check afterwards.

use crate::helpers::{TestApp, count, eventually_within, eventually_within_showing};
use cart_service::domain::{Cart, CartStatus};
use cartflow_api::cart::CheckoutRequest;
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
    shop_paying(app, customer, sku, CheckoutRequest::TEST_CARD, accepted).await
}

/// [`shop`], paying with `payment_method`.
pub async fn shop_paying(
    app: &TestApp,
    customer: Uuid,
    sku: &str,
    payment_method: &str,
    accepted: &AtomicUsize,
) {
    let checkout = CheckoutRequest::paid_with(payment_method);
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
        match cart.convert_with(customer, &checkout).await {
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
    let declined = carts
        .iter()
        .filter(|c| c.status == CartStatus::PaymentDeclined)
        .count();
    let rejected = shoppers - converted - declined;
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

    // Receipts follow captures, which may come last: a capture handed over in memory to
    // a payment process that is then killed waits for its claim to run out (about 16 s)
    // before another process asks, and its retries back off up to 30 s apart.
    eventually_within_showing(Duration::from_secs(120), "every notification sent", || async {
        let sent = |kind: &'static str| async move {
            app.count(
                Service::Notification,
                &format!("SELECT count(*) FROM notifications WHERE kind = '{kind}' AND status = 'sent'"),
            )
            .await
        };
        let confirmed = sent("order_confirmed").await;
        let rejections = sent("stock_rejected").await;
        let receipts = sent("payment_receipt").await;
        let declines = sent("payment_declined").await;
        let mails = shopper_mails(app);
        if confirmed == 2 * converted as i64
            && rejections == 2 * rejected as i64
            && declines == 2 * declined as i64
            && receipts == 2 * converted as i64
            && mails == shoppers + converted
        {
            return Ok(());
        }
        Err(format!(
            "sent: {confirmed} confirmations of {}, {rejections} rejections of {}, \
             {declines} declines of {}, {receipts} receipts of {}; {mails} mails of {}; \
             payment's unfinished steps: {}",
            2 * converted,
            2 * rejected,
            2 * declined,
            2 * converted,
            shoppers + converted,
            unfinished_payments(app).await
        ))
    })
    .await;
    let all = app
        .count(
            Service::Notification,
            "SELECT count(*) FROM notifications WHERE kind IN ('order_confirmed', 'stock_rejected', 'payment_declined')",
        )
        .await;
    assert_eq!(all, 2 * shoppers as i64, "no notification twice");
    assert_eq!(
        shopper_mails(app),
        shoppers + converted,
        "no email twice: an outcome each, and a receipt per order"
    );
    assert_payment_books(app).await;
}

/// Payment's steps not yet settled, by status, with their attempts and last error.
async fn unfinished_payments(app: &TestApp) -> String {
    let rows: Vec<(String, i64, i32, Option<String>)> = sqlx::query_as(
        "SELECT status, count(*), max(attempts), max(last_error) FROM payments
         WHERE status IN ('authorizing', 'capturing', 'voiding', 'refunding') GROUP BY status",
    )
    .fetch_all(app.pool(Service::Payment))
    .await
    .unwrap();
    if rows.is_empty() {
        return "none".into();
    }
    rows.iter()
        .map(|(status, n, attempts, error)| {
            format!("{status} {n} (up to {attempts} attempts; {error:?})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Once the saga has settled, the books balance three ways: the provider's ledger,
/// the payment service's records and the orders agree (captured − refunded = the
/// totals of the orders that are not cancelled), every order was made with a captured
/// (or, cancelled, refunded) payment, and nothing stays held at the provider.
pub async fn assert_payment_books(app: &TestApp) {
    let orders_net = || async {
        count(
            app.pool(Service::Order),
            "SELECT coalesce(sum(total_cents), 0)::bigint FROM orders WHERE status <> 'cancelled'",
        )
        .await
    };
    let records_net = || async {
        count(
            app.pool(Service::Payment),
            "SELECT coalesce(sum(captured_cents - refunded_cents), 0)::bigint FROM payments",
        )
        .await
    };
    let pending = || async {
        count(
            app.pool(Service::Payment),
            "SELECT count(*) FROM payments WHERE status IN ('authorizing', 'capturing', 'voiding', 'refunding')",
        )
        .await
    };
    eventually_within(
        Duration::from_secs(60),
        "the payments to settle and balance",
        || async {
            let ledger = app.gateway.sandbox().ledger();
            let (orders, records) = (orders_net().await, records_net().await);
            (pending().await == 0
                && ledger.totals.capturable == 0
                && ledger.totals.net == records
                && records == orders)
                .then_some(())
        },
    )
    .await;
    let ledger = app.gateway.sandbox().ledger();
    let orders = count(app.pool(Service::Order), "SELECT count(*) FROM orders").await;
    let paid = count(
        app.pool(Service::Payment),
        "SELECT count(*) FROM payments WHERE order_id IS NOT NULL AND status IN ('captured', 'refunded', 'voided')",
    )
    .await;
    assert_eq!(paid, orders, "every order was made with its payment");
    let without_payment = count(
        app.pool(Service::Order),
        "SELECT count(*) FROM orders WHERE payment_id IS NULL",
    )
    .await;
    assert_eq!(without_payment, 0, "no order without a payment");
    assert_eq!(
        ledger.counts.captures as i64,
        count(
            app.pool(Service::Payment),
            "SELECT count(*) FROM payments WHERE captured_cents > 0"
        )
        .await,
        "one capture per captured payment: {ledger:?}"
    );
    // At most one authorization per checkout at the provider, whatever was retried.
    let mut checkouts: Vec<&String> = ledger
        .intents
        .iter()
        .filter_map(|i| i.metadata.get("checkout_id"))
        .collect();
    let all = checkouts.len();
    checkouts.sort();
    checkouts.dedup();
    assert_eq!(checkouts.len(), all, "one intent per checkout");
}

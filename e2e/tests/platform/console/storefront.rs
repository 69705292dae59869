//! The storefront checks out and cancels, and the explorer, the overview and the
//! topology show that checkout.

use crate::helpers::browser::{Browser, PAGE_DEADLINE, start_console};
use crate::helpers::{eventually_within, spawn_app};
use cart_service::domain::CartStatus;
use cartflow_events::Service;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storefront_checks_out_and_cancels_and_the_explorer_shows_every_hop() {
    let app = spawn_app().await;
    app.create_product("CON-1", 1250, 5).await;
    app.create_product("CON-2", 700, 5).await;
    let customer = app.create_customer("Ada Console", "ada@example.com").await;
    app.wait_for_contact(customer, "ada@example.com").await;
    let console = start_console(&app).await;
    let browser = Browser::start().await;

    // The storefront: pick the customer, add two products, check out.
    browser.goto(&format!("{}/shop", console.url)).await;
    browser.select("#customer", &customer.to_string()).await;
    browser.click("button.add[data-sku='CON-1']").await;
    eventually_within(PAGE_DEADLINE, "one cart line", || async {
        (browser.texts("#cart-lines li").await.len() == 1).then_some(())
    })
    .await;
    browser.click("button.add[data-sku='CON-2']").await;
    eventually_within(PAGE_DEADLINE, "two cart lines", || async {
        (browser.texts("#cart-lines li").await.len() == 2).then_some(())
    })
    .await;
    // A price change at product reaches the cart's catalog: the line keeps the price
    // it was added at and shows the new one beside it.
    let repriced = app
        .staff
        .put(format!("{}/products/CON-1", app.url(Service::Product)))
        .json(&json!({ "name": "Product CON-1", "price_cents": 1300 }))
        .send()
        .await
        .unwrap();
    assert_eq!(repriced.status(), StatusCode::OK);
    eventually_within(PAGE_DEADLINE, "the line's current price", || async {
        let lines = browser.texts("#cart-lines li").await;
        lines
            .iter()
            .any(|l| l.contains("CON-1 at $12.50") && l.contains("(now $13.00)"))
            .then_some(())
    })
    .await;
    browser
        .wait_text(
            "tr[data-sku='CON-1'] .price",
            "the catalog's new price",
            |s| s == "$13.00",
        )
        .await;
    // A declined test card: the page says so, the stock is back, the cart is open.
    browser
        .select("#card", "pm_card_chargeDeclinedInsufficientFunds")
        .await;
    browser.click("#checkout").await;
    browser
        .wait_text("#cart-status", "the decline on the page", |s| {
            s == "payment_declined (insufficient_funds)"
        })
        .await;
    browser
        .wait_text("#shop-status", "the decline said", |s| {
            s.starts_with("The checkout ended: the card was declined")
        })
        .await;
    // Another card: it converts.
    browser.select("#card", "pm_card_visa").await;
    browser.click("#checkout").await;
    browser
        .wait_text("#cart-status", "the cart to convert on the page", |s| {
            s == "converted"
        })
        .await;
    browser
        .wait_text("#shop-status", "the ending said", |s| {
            s.starts_with("The checkout ended: converted")
        })
        .await;
    browser
        .wait_text(
            "tr[data-order] .order-status",
            "the order on the page",
            |s| s == "confirmed",
        )
        .await;
    browser
        .wait_text(
            "#mail li strong",
            "the confirmation email on the page",
            |s| s.contains("confirmed"),
        )
        .await;
    browser
        .wait_text("#push li strong", "the push message on the page", |s| {
            s.contains("confirmed")
        })
        .await;
    browser
        .wait_text(
            "tr[data-sku='CON-1'] .available",
            "the stock to go down",
            |s| s == "4",
        )
        .await;
    browser.screenshot("storefront").await;
    let cart_id = browser.texts("#cart-id").await.remove(0);
    let cart = app.settled_cart(customer).await;
    assert_eq!(
        cart.id.to_string(),
        cart_id,
        "the page shows the customer's cart"
    );
    assert_eq!(cart.status, CartStatus::Converted);
    let order_id = cart.order_id.unwrap().to_string();

    // Cancel on the page: the order says so and the stock comes back.
    browser.click("button.cancel").await;
    browser
        .wait_text(
            "tr[data-order] .order-status",
            "the cancellation on the page",
            |s| s == "cancelled",
        )
        .await;
    browser
        .wait_text(
            "tr[data-sku='CON-1'] .available",
            "the stock to come back",
            |s| s == "5",
        )
        .await;
    assert_eq!(app.stock("CON-1").await.0, 5);

    // The explorer, by cart id: every hop of the saga, each consumption with its latency.
    browser
        .goto(&format!("{}/explorer?q={cart_id}", console.url))
        .await;
    let expected = [
        ("inventory", "order-requested"),
        ("payment", "order-requested"),
        ("order", "stock-available"),
        // The declined card first: the stock back, the cart unlocked.
        ("inventory", "payment.declined"),
        ("cart", "payment.declined"),
        ("order", "payment.authorized"),
        ("payment", "order.created"),
        ("notification", "payment.captured"),
        ("payment", "order.cancelled"),
        ("cart", "order.created"),
        ("notification", "order.created"),
        ("email-push", "delivery.requested"),
        ("notification", "delivery.result"),
        ("inventory", "order.cancelled"),
        ("notification", "order.cancelled"),
    ];
    let consumed = eventually_within(PAGE_DEADLINE, "every hop in the explorer", || async {
        let rows = browser
            .client
            .find_all(fantoccini::Locator::Css("tr[data-what='consumed']"))
            .await
            .ok()?;
        let mut seen = BTreeSet::new();
        for row in rows {
            let service = row.attr("data-service").await.ok()??;
            let event = row.attr("data-event-type").await.ok()??;
            seen.insert((service, event));
        }
        expected
            .iter()
            .all(|(s, e)| seen.contains(&(s.to_string(), e.to_string())))
            .then_some(seen)
    })
    .await;
    assert!(consumed.len() >= expected.len(), "{consumed:?}");
    let hops = browser
        .texts("tr[data-what='consumed'] td:nth-child(6)")
        .await;
    assert!(
        hops.iter().all(|h| h.ends_with("ms")),
        "every consumption shows its hop's latency: {hops:?}"
    );
    assert!(
        !browser
            .texts("tr[data-what='published'] details")
            .await
            .is_empty()
    );
    browser.screenshot("explorer").await;

    // By order id, the same checkout; bad and unknown ids get a clear message.
    let search = |q: String| {
        let browser = &browser;
        async move {
            browser.fill("#q", &q).await;
            browser.click("#search button").await;
        }
    };
    search(order_id.clone()).await;
    browser
        .wait_text("#result-status", "the order id to resolve", |s| {
            s.contains("order id")
        })
        .await;
    assert_eq!(
        browser
            .client
            .find(fantoccini::Locator::Css("section[data-saga]"))
            .await
            .unwrap()
            .attr("data-saga")
            .await
            .unwrap()
            .as_deref(),
        Some(cart_id.as_str())
    );
    // By customer id, their checkouts; by an event id, the saga it belongs to.
    let event_id = browser
        .client
        .find(fantoccini::Locator::Css(
            "tr[data-what='published'] .mono.muted",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    search(customer.to_string()).await;
    browser
        .wait_text("#result-status", "the customer id to resolve", |s| {
            s.contains("customer id")
        })
        .await;
    let sagas = browser.texts("section[data-saga] h2").await;
    assert!(sagas.iter().any(|h| h.contains(&cart_id)), "{sagas:?}");
    search(event_id).await;
    browser
        .wait_text("#result-status", "the event id to resolve", |s| {
            s.contains("event id")
        })
        .await;
    search("not-an-id".into()).await;
    browser
        .wait_text("#result-status", "a bad id refused", |s| {
            s.contains("is not an id")
        })
        .await;
    search(Uuid::new_v4().to_string()).await;
    browser
        .wait_text("#result-status", "an unknown id refused", |s| {
            s.contains("no checkout found")
        })
        .await;
    assert!(browser.texts("section[data-saga]").await.is_empty());

    // The payments page: the captured and refunded payment, and the books reconciled
    // with the provider.
    browser.goto(&format!("{}/payments", console.url)).await;
    browser
        .wait_text(
            "tr[data-payment] .payment-status",
            "the refunded payment",
            |s| s == "refunded",
        )
        .await;
    browser.click("#reconcile").await;
    browser
        .wait_text("#recon-status", "the reconciliation", |s| {
            s.starts_with("No differences")
        })
        .await;

    // The overview: eight services ready, the checkout counted.
    browser.goto(&format!("{}/", console.url)).await;
    eventually_within(PAGE_DEADLINE, "eight ready services", || async {
        (browser.texts("#services td.ready").await.len() == 8).then_some(())
    })
    .await;
    browser
        .wait_text("#k-confirmed", "the confirmed checkout", |s| s == "1")
        .await;
    let chart = browser
        .client
        .find(fantoccini::Locator::Css("#chart-checkouts"))
        .await
        .unwrap()
        .attr("points")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(chart.contains(','), "the chart has its points: {chart:?}");
    browser.screenshot("overview").await;

    // The topology: one box per subscription, live counts filled in.
    browser.goto(&format!("{}/topology", console.url)).await;
    browser
        .wait_text("#live-status", "the live counts", |s| s.starts_with("Live"))
        .await;
    let counts = browser.texts("svg.topology text.count").await;
    let subscriptions = cartflow_events::Topology::default().subscriptions().len();
    assert_eq!(counts.len(), subscriptions);
    assert!(counts.iter().all(|c| c.contains("/s")), "{counts:?}");
    browser.screenshot("topology").await;

    // The API page: the product service's routes from its OpenAPI document, the topics
    // from the AsyncAPI document, rendered offline.
    browser.goto(&format!("{}/api", console.url)).await;
    browser
        .wait_text("#api-status", "the product service's routes", |s| {
            s.starts_with("product:") && s.ends_with("routes.")
        })
        .await;
    let routes = browser.texts("#routes tr td:nth-child(2)").await;
    assert!(routes.iter().any(|r| r == "/products/{sku}"), "{routes:?}");
    // The answers every route shares are one line per route, not a block each.
    let shared = browser.texts("#routes .shared-answers").await;
    assert!(
        !shared.is_empty()
            && shared
                .iter()
                .all(|s| s.starts_with("and the shared ") && s.contains("500")),
        "{shared:?}"
    );
    // The service's own routes come before the kit's.
    let at = |route: &str| routes.iter().position(|r| r == route);
    assert!(at("/products/{sku}") < at("/admin/events"), "{routes:?}");
    assert!(at("/admin/events").is_some(), "{routes:?}");
    eventually_within(PAGE_DEADLINE, "the topics", || async {
        let topics = browser.texts("#channels tr td:first-child").await;
        topics.iter().any(|t| t == "order.created").then_some(())
    })
    .await;
    browser.screenshot("api").await;
    browser.close().await;
}

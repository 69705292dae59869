//! The web console in a real browser (headless Chromium over WebDriver) against a
//! running platform: the storefront checks out and cancels, the explorer shows every
//! hop of that checkout, the overview and topology show the platform live, and a dead
//! letter is replayed from its page once its cause is fixed. Screenshots of every
//! page go to `target/tmp/console-screenshots/`.

use crate::helpers::browser::{Browser, PAGE_DEADLINE, start_console, start_console_with};
use crate::helpers::{assert_problem, count, eventually_within, spawn_app, spawn_app_with};
use cart_service::domain::CartStatus;
use cartflow::console::Operators;
use cartflow_events::Service;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

const TOKEN: &str = "console-admin-token-0123456789";

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
        ("payment", "stock-available"),
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

/// Unless a look is under way, looks again (a letter can arrive just after a look).
async fn look_again(browser: &Browser) {
    let status = browser.texts("#dl-status").await.join("");
    if !status.starts_with("Reading") {
        browser.click("#refresh").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_replayed_from_the_console_once_its_cause_is_fixed() {
    // A long saga deadline: the watchdog's re-sent requests must not finish the bugged
    // checkout behind the replay's back.
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN), ("CHECKOUT_DEADLINE_MS", "600000")]).await;
    app.create_product("BUG-1", 2000, 3).await;
    let inventory = app.pool(Service::Inventory);
    app.inject_reservation_bug("BUG-1").await;
    let customer = app.create_customer("Bo Buggy", "bo@example.com").await;
    app.wait_for_contact(customer, "bo@example.com").await;
    app.add(customer, "BUG-1", 1).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);

    let console = start_console(&app).await;
    // Without a session nothing is listed or replayed, and the API says why.
    let http = reqwest::Client::new();
    let refused = http
        .post(format!("{}/api/dead-letters/replay", console.url))
        .json(&serde_json::json!({
            "service": "inventory", "subscription": "inventory.order-requested.dead-letter",
            "event_ids": [Uuid::new_v4()]
        }))
        .send()
        .await
        .unwrap();
    let detail = crate::helpers::assert_problem(refused, StatusCode::UNAUTHORIZED).await;
    assert!(detail.contains("sign in"), "{detail}");
    // Another site's page cannot make the console act (cross-site request forgery).
    let forged = http
        .post(format!("{}/api/session", console.url))
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({ "operator": "Mallory", "token": TOKEN }))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(forged, StatusCode::FORBIDDEN).await;

    let browser = Browser::start().await;
    browser.goto(&format!("{}/dead-letters", console.url)).await;
    browser
        .wait_text("#dl-status", "the page to ask for the token", |s| {
            s.contains("sign in with the admin token")
        })
        .await;
    // A wrong token is refused on the page.
    browser.fill("#operator", "Olga Operator").await;
    browser.fill("#token", "not-the-admin-token-000").await;
    browser.click("#signin button").await;
    browser
        .wait_text("#dl-status", "the wrong token refused", |s| {
            s.contains("refused")
        })
        .await;
    assert!(browser.texts("#letters section").await.is_empty());

    // The bugged request fails its five attempts, then waits in the dead letters.
    eventually_within(Duration::from_secs(90), "five failed attempts", || async {
        let n = count(
            inventory,
            "SELECT coalesce(max(attempts), 0)::bigint FROM message_failures",
        )
        .await;
        (n >= 5).then_some(())
    })
    .await;
    browser.fill("#token", TOKEN).await;
    browser.click("#signin button").await;
    browser
        .wait_text("#whoami", "the sign-in", |s| s.contains("Olga Operator"))
        .await;
    // The session is a cookie the page's script cannot read; nothing is stored.
    let visible = browser
        .client
        .execute(
            "return [document.cookie, localStorage.length, sessionStorage.length]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        visible,
        serde_json::json!(["", 0, 0]),
        "the token must stay out of the page"
    );

    // The letter becomes a dead letter some seconds after the checkout: look again
    // until it shows.
    let event_id = eventually_within(
        Duration::from_secs(90),
        "the dead letter on the page",
        || async {
            let rows = browser
                .client
                .find_all(fantoccini::Locator::Css("tr[data-event-id]"))
                .await
                .ok()?;
            if let Some(row) = rows.first() {
                return row.attr("data-event-id").await.ok().flatten();
            }
            look_again(&browser).await;
            None
        },
    )
    .await;
    let event_id: Uuid = event_id.parse().unwrap();
    let error = browser
        .texts(&format!("tr[data-event-id='{event_id}'] .error-text"))
        .await
        .join("");
    assert!(
        error.contains("injected bug"),
        "the recorded error shows: {error}"
    );
    browser.screenshot("dead-letters").await;

    // Fix the cause, then replay from the page; retried while the look hides it.
    app.fix_reservation_bug().await;
    browser
        .wait_text("#dl-status", "the look to finish", |s| {
            !s.starts_with("Reading")
        })
        .await;
    // A look lets go of what it saw as it ends, so the row is there to tick; should a
    // look that ran meanwhile have redrawn the list without it, look again.
    let checkbox = format!("input[type=checkbox][value='{event_id}']");
    eventually_within(Duration::from_secs(90), "the letter to tick", || async {
        if let Ok(element) = browser
            .client
            .find(fantoccini::Locator::Css(&checkbox))
            .await
        {
            return element.click().await.ok();
        }
        look_again(&browser).await;
        None
    })
    .await;
    eventually_within(Duration::from_secs(60), "the replay to go out", || async {
        browser
            .click("section[data-subscription] button.replay")
            .await;
        let status = eventually_within(PAGE_DEADLINE, "the replay's answer", || async {
            let s = browser.texts("#dl-status").await.join("");
            (s.starts_with("Replayed") || s.starts_with("Nothing")).then_some(s)
        })
        .await;
        (status.starts_with("Replayed 1")).then_some(())
    })
    .await;
    browser
        .wait_text(
            "#replays tr td:nth-child(2)",
            "the replay logged with who",
            |s| s == "Olga Operator",
        )
        .await;
    assert!(
        browser.texts("tr[data-event-id]").await.is_empty(),
        "a replayed letter leaves the list"
    );
    assert_eq!(
        browser
            .texts("section[data-subscription] h3 .waiting")
            .await
            .join(""),
        "0 waiting",
        "the heading counts what is left, not what the look read"
    );
    browser.screenshot("dead-letters-replayed").await;

    // Processed once: the checkout converts, one inbox row, one reservation.
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::Converted);
    let processed = count(
        inventory,
        &format!("SELECT count(*) FROM processed_messages WHERE event_id = '{event_id}'"),
    )
    .await;
    assert_eq!(processed, 1);
    assert_eq!(
        count(inventory, "SELECT count(*) FROM reservations").await,
        1
    );
    assert_eq!(app.stock("BUG-1").await.0, 2);
    browser.close().await;
}

/// Without a browser: the console answers under its own names only (another site's
/// name rebound to its address gets 421), marks its cookie `Secure` when its public URL
/// is https, and logs a replay with the operator the token signed in, whatever name
/// was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_answers_its_own_host_only_and_logs_the_signed_in_operator() {
    const ANN: &str = "ann-personal-token-0123456789";
    const BO: &str = "bo-personal-token-0123456789";
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN)]).await;
    let console = start_console_with(&app, |settings| {
        settings.public_url = Some("https://console.example".parse().unwrap());
        settings.operators = Operators::Accounts {
            admin_token: TOKEN.into(),
            accounts: vec![
                ("Ann Admin".into(), ANN.into()),
                ("Bo Boss".into(), BO.into()),
            ],
        };
    })
    .await;
    let http = reqwest::Client::new();
    let port = console.url.rsplit(':').next().unwrap().to_string();
    let status_under = |host: String| {
        let request = http.get(format!("{}/", console.url)).header("host", host);
        async move { request.send().await.unwrap().status() }
    };
    for host in ["evil.example".to_string(), format!("evil.example:{port}")] {
        assert_eq!(
            status_under(host.clone()).await,
            StatusCode::MISDIRECTED_REQUEST,
            "{host}"
        );
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "console.example".into(),
    ] {
        assert_eq!(status_under(host.clone()).await, StatusCode::OK, "{host}");
    }

    let sign_in = |operator: &str, token: &str| {
        http.post(format!("{}/api/session", console.url))
            .json(&json!({ "operator": operator, "token": token }))
            .send()
    };
    // Ann's token under Bo's name, or the admin token itself: refused.
    assert_problem(
        sign_in("Bo Boss", ANN).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_problem(
        sign_in("Ann Admin", TOKEN).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let signed_in = sign_in("Ann Admin", ANN).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let as_ann = |request: reqwest::RequestBuilder| request.header("cookie", &session).send();

    let listed: Value = as_ann(http.get(format!("{}/api/dead-letters", console.url)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subscription = listed["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "inventory")
        .map(|s| s["subscription"].clone())
        .unwrap_or_else(|| panic!("inventory's dead letters: {listed}"));
    let replay = json!({
        "service": "inventory", "subscription": subscription, "event_ids": [Uuid::new_v4()]
    });
    let replayed = as_ann(
        http.post(format!("{}/api/dead-letters/replay", console.url))
            .json(&replay),
    )
    .await
    .unwrap();
    assert_eq!(replayed.status(), StatusCode::OK);
    let log: Value = as_ann(http.get(format!("{}/api/replays", console.url)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["replays"][0]["operator"], "Ann Admin", "{log}");
}

/// A console of one's own logs its one operator: a sign-in under another name is
/// refused, and over plain http the cookie is not `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_of_ones_own_signs_in_its_operator_only() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN)]).await;
    let console = start_console(&app).await;
    let http = reqwest::Client::new();
    let sign_in = |body: Value| {
        http.post(format!("{}/api/session", console.url))
            .json(&body)
            .send()
    };
    let typed = sign_in(json!({ "operator": "Mallory", "token": TOKEN }))
        .await
        .unwrap();
    assert_problem(typed, StatusCode::UNAUTHORIZED).await;
    let signed_in = sign_in(json!({ "token": TOKEN })).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!cookie.contains("Secure"), "{cookie}");
    let who: Value = signed_in.json().await.unwrap();
    assert_eq!(who["operator"], crate::helpers::browser::OPERATOR);
}

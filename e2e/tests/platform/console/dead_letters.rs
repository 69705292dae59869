//! A dead letter found, refused without a session, and replayed from its page once its
//! cause is fixed.

use super::TOKEN;
use crate::helpers::browser::{Browser, PAGE_DEADLINE, start_console};
use crate::helpers::{count, eventually_within, spawn_app_with};
use cart_service::domain::CartStatus;
use cartflow_events::Service;
use reqwest::StatusCode;
use std::time::Duration;
use uuid::Uuid;

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

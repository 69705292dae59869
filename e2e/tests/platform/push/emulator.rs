//! On the emulator, which cannot sign tokens: the saga runs by push alone, every
//! request publishes what it wrote before answering, and a failed publish leaves its rows
//! to the next request.

use crate::helpers::{eventually, eventually_within, spawn_app_duplicating, spawn_app_with};
use crate::throwaway::app_on_own_emulator;
use cartflow_events::Service;
use notification_service::domain::{Kind, Status};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_runs_on_push_delivery_alone_even_with_every_message_pushed_twice() {
    let app = spawn_app_duplicating(&[("PUBSUB_DELIVERY", "push"), ("PUSH_AUTH", "none")]).await;
    app.create_product("KB-1", 1250, 10).await;
    let customer = app.create_customer("Pat Push", "pat@example.com").await;
    app.wait_for_contact(customer, "pat@example.com").await;

    let order_id = app.checkout(customer, "KB-1", 3).await;

    assert_eq!(app.stock("KB-1").await, (7, 3));
    assert_eq!(
        app.orders(&format!("customer_id={customer}")).await.len(),
        1
    );
    eventually(
        "the confirmation and the receipt, by email and push",
        || async {
            let sent: Vec<_> = app
                .notifications(customer)
                .await
                .into_iter()
                .filter(|n| {
                    matches!(n.kind, Kind::OrderConfirmed | Kind::PaymentReceipt)
                        && n.status == Status::Sent
                })
                .collect();
            (sent.len() == 4).then_some(())
        },
    )
    .await;
    let mails = app.mails();
    assert_eq!(
        mails.len(),
        2,
        "one email each despite every event pushed twice"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.subject == format!("Order {order_id} confirmed"))
    );
    assert!(
        mails
            .iter()
            .any(|m| m.subject == format!("Receipt for order {order_id}"))
    );
    // The copies are published on their own schedule: wait for one to be skipped.
    app.wait_for_skipped_copies(
        Service::Inventory,
        1,
        "the second copy reached inventory by push and was skipped",
    )
    .await;
    app.stop().await;
}

/// Push mode on a CPU throttled between requests (Cloud Run with `cpu_idle`): with the
/// background relay and its sweep switched off, only what each request publishes before
/// it answers can move the saga. It still runs end to end, to the email and the push.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_push_mode_every_request_publishes_what_it_wrote_before_answering() {
    let app = spawn_app_with(&[
        ("PUBSUB_DELIVERY", "push"),
        ("PUSH_AUTH", "none"),
        ("OUTBOX_BACKGROUND_RELAY", "false"),
        ("ADMIN_TOKEN", REPLAY_TOKEN),
    ])
    .await;
    app.create_product("KB-1", 1250, 10).await;
    let customer = app
        .create_customer("Tia Throttled", "tia@example.com")
        .await;
    app.wait_for_contact(customer, "tia@example.com").await;

    let order_id = app.checkout(customer, "KB-1", 2).await;
    assert_eq!(app.stock("KB-1").await, (8, 2));
    eventually(
        "the confirmation and the receipt, by email and push",
        || async {
            let sent = app
                .notifications(customer)
                .await
                .into_iter()
                .filter(|n| {
                    matches!(n.kind, Kind::OrderConfirmed | Kind::PaymentReceipt)
                        && n.status == Status::Sent
                })
                .count();
            (sent == 4).then_some(())
        },
    )
    .await;
    let mails = app.mails();
    assert_eq!(mails.len(), 2);
    assert!(
        mails
            .iter()
            .any(|m| m.subject == format!("Order {order_id} confirmed"))
    );
    // Nothing waits for a background pass: every outbox row was published and marked
    // by the request (or delivery) that wrote it.
    for service in [
        Service::Cart,
        Service::Inventory,
        Service::Payment,
        Service::Order,
        Service::Notification,
    ] {
        let waiting = app
            .count(
                service,
                "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            )
            .await;
        assert_eq!(
            waiting, 0,
            "{service} left rows for a relay that never runs"
        );
    }
    // An operator's replay is published before the route answers, too: right after
    // the 200 nothing waits in order's outbox, and notification skips the copy.
    let replay = app
        .http
        .post(format!("{}/admin/events/replay", app.url(Service::Order)))
        .bearer_auth(REPLAY_TOKEN)
        .json(&json!({ "event_type": "order.created" }))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(replayed["requeued"], 1, "{replayed}");
    let waiting = app
        .count(
            Service::Order,
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
        )
        .await;
    assert_eq!(waiting, 0, "the replay was published before the answer");
    let event_id: Uuid = replayed["event_ids"][0].as_str().unwrap().parse().unwrap();
    app.wait_for_duplicates(Service::Notification, event_id, 1)
        .await;
    assert_eq!(app.mails().len(), 2, "the replay told nobody twice");
    app.stop().await;
}

const REPLAY_TOKEN: &str = "push-test-admin-token-0123";

/// Push mode while Pub/Sub takes no publishes (its emulator killed), on a CPU throttled
/// between requests (no background relay, no sweep): a request that stages events still
/// answers, the same way, once the publish times out; the rows wait in the outbox. A new
/// emulator comes up (empty, provisioned again as Terraform would), and the service's
/// next request publishes the leftovers with its own events before it answers: both
/// checkouts end once, nothing lost, nothing doubled (a copy the SDK still sends is
/// skipped by the inboxes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_push_mode_a_failed_publish_leaves_the_rows_to_the_next_request() {
    let (mut emulator, app) = app_on_own_emulator(&[
        ("PUBSUB_DELIVERY", "push"),
        ("PUSH_AUTH", "none"),
        ("OUTBOX_PUBLISH_TIMEOUT_MS", "1000"),
        ("OUTBOX_BACKGROUND_RELAY", "false"),
    ])
    .await;
    app.create_product("EMU-1", 1000, 10).await;
    let first = app.create_customer("Pia Pause", "pia@example.com").await;
    let second = app.create_customer("Quin Queue", "quin@example.com").await;
    app.wait_for_contact(first, "pia@example.com").await;
    app.wait_for_contact(second, "quin@example.com").await;
    app.add(first, "EMU-1", 2).await;
    app.add(second, "EMU-1", 1).await;

    emulator.kill();
    // Bounded by the publish timeout (1 s here), not by the SDK's own retries: a
    // request must not hang while Pub/Sub is away.
    let convert = tokio::time::timeout(Duration::from_secs(20), app.convert(first))
        .await
        .expect("the convert request answers while Pub/Sub is down");
    assert_eq!(convert.status(), StatusCode::ACCEPTED);
    let unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL";
    assert_eq!(
        app.count(Service::Cart, unpublished).await,
        1,
        "the order request waits in the cart's outbox"
    );

    tokio::task::block_in_place(|| emulator.up());
    app.platform()
        .provision_again(&app.infra.settings)
        .await
        .expect("provisioning the new emulator");
    // A request publishes the leftover with its own events before it answers (here an
    // add, one statement without a transaction of its own). Only once the publisher has
    // reconnected to the new emulator, which it does on its channel's own backoff after
    // the outage: the adds before that answer with the row still waiting, and the first
    // add after it leaves none. Nothing else publishes (no background relay, no sweep),
    // so a count read right after an add tells what that add did.
    let adds = std::sync::atomic::AtomicI64::new(0);
    eventually_within(
        Duration::from_secs(60),
        "a request that publishes the leftover before answering",
        || async {
            app.add(second, "EMU-1", 1).await;
            adds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            (app.count(Service::Cart, unpublished).await == 0).then_some(())
        },
    )
    .await;
    let adds = adds.into_inner();
    assert_eq!(app.convert(second).await.status(), StatusCode::ACCEPTED);
    for customer in [first, second] {
        let cart = eventually_within(Duration::from_secs(60), "the checkout to end", || async {
            let cart: Value = app.cart(customer).await.json().await.ok()?;
            (cart["status"] != "checkout_pending").then_some(cart)
        })
        .await;
        assert_eq!(cart["status"], "converted", "{cart}");
        assert_eq!(
            app.orders(&format!("customer_id={customer}")).await.len(),
            1
        );
    }
    eventually_within(
        Duration::from_secs(30),
        "the confirmation and receipt emails",
        || async { (app.mails().len() == 4).then_some(()) },
    )
    .await;
    let reserved = 2 + 1 + adds;
    assert_eq!(
        app.stock("EMU-1").await,
        (10 - reserved, reserved),
        "stock + reserved = initial"
    );
    app.stop().await;
}

//! The contract drive of notification's outgoing webhooks: a partner's endpoint
//! subscribed before the checkout, then every route of operating it.

use super::harness::{Contract, Who};
use crate::helpers::eventually;
use cartflow_e2e::TestApp;
use cartflow_events::Service;
use cartflow_testkit::webhook_receiver::{Behaviour, Receiver};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// The partner's receiver (kept running until the test ends) and its endpoint's path,
/// with the path of an endpoint that does not exist.
pub(super) struct Partner {
    _receiver: Receiver,
    hook: String,
    no_hook: String,
}

/// Subscribes a partner to `order.created`, refused to `ann`.
pub(super) async fn subscribe(c: &mut Contract, ann: Uuid) -> Partner {
    let post = Method::POST;
    use Service::*;
    use Who::{Customer as As, Staff};

    let partner = Receiver::start(Behaviour::Ok).await;
    let subscription = json!({ "url": partner.url, "events": ["order.created"] });
    c.expect(
        As(ann),
        post.clone(),
        Notification,
        "/webhooks",
        Some(subscription.clone()),
        403,
    )
    .await;
    let endpoint = c
        .expect(
            Staff,
            post.clone(),
            Notification,
            "/webhooks",
            Some(subscription),
            201,
        )
        .await;
    partner.knows(endpoint["secret"].as_str().unwrap());
    let hook = format!("/webhooks/{}", endpoint["id"].as_str().unwrap());
    let no_hook = format!("/webhooks/{}", Uuid::new_v4());
    Partner {
        _receiver: partner,
        hook,
        no_hook,
    }
}

/// Every route of the partner's endpoint, as staff, for no endpoint, and as `ann`: its
/// deliveries walked, one replayed, a replay since a date, and the endpoint deleted.
pub(super) async fn operate(c: &mut Contract, app: &TestApp, ann: Uuid, partner: &Partner) {
    let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
    use Service::*;
    use Who::{Customer as As, Staff};
    let (hook, no_hook) = (partner.hook.clone(), partner.no_hook.clone());

    c.expect(Staff, get.clone(), Notification, "/webhooks", None, 200)
        .await;
    c.expect(As(ann), get.clone(), Notification, "/webhooks", None, 403)
        .await;
    for (method, tail, ok) in [
        (get.clone(), "", 200),
        (post.clone(), "/pause", 200),
        (post.clone(), "/resume", 200),
        (post.clone(), "/rotate-secret", 200),
        (get.clone(), "/deliveries", 200),
    ] {
        c.expect(
            Staff,
            method.clone(),
            Notification,
            &format!("{hook}{tail}"),
            None,
            ok,
        )
        .await;
        c.expect(
            Staff,
            method.clone(),
            Notification,
            &format!("{no_hook}{tail}"),
            None,
            404,
        )
        .await;
        c.expect(
            As(ann),
            method,
            Notification,
            &format!("{hook}{tail}"),
            None,
            403,
        )
        .await;
    }
    let deliveries_url = format!("{}{hook}/deliveries", app.url(Notification));
    let delivered = eventually("the order.created delivered to the partner", || async {
        let page: Value = app
            .staff
            .get(&deliveries_url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        page["items"]
            .as_array()?
            .iter()
            .find(|d| d["status"] == "delivered")
            .and_then(|d| d["id"].as_str().map(str::to_string))
    })
    .await;
    let deliveries = format!("{hook}/deliveries");
    c.walk_pages(Staff, Notification, &deliveries).await;
    c.walk_pages(Staff, Notification, "/webhooks").await;
    let delivery = format!("{hook}/deliveries/{delivered}");
    let no_delivery = format!("{hook}/deliveries/{}", Uuid::new_v4());
    c.expect(Staff, get.clone(), Notification, &delivery, None, 200)
        .await;
    c.expect(Staff, get.clone(), Notification, &no_delivery, None, 404)
        .await;
    c.expect(As(ann), get.clone(), Notification, &delivery, None, 403)
        .await;
    let replay = format!("{delivery}/replay");
    // Paused, so that the replayed delivery is still pending for the second replay
    // (an active endpoint may be called again in between: then 202 twice).
    let pause = format!("{hook}/pause");
    c.expect(Staff, post.clone(), Notification, &pause, None, 200)
        .await;
    c.expect(Staff, post.clone(), Notification, &replay, None, 202)
        .await;
    c.expect(Staff, post.clone(), Notification, &replay, None, 409)
        .await;
    let resume = format!("{hook}/resume");
    c.expect(Staff, post.clone(), Notification, &resume, None, 200)
        .await;
    c.expect(
        Staff,
        post.clone(),
        Notification,
        &format!("{no_delivery}/replay"),
        None,
        404,
    )
    .await;
    c.expect(As(ann), post.clone(), Notification, &replay, None, 403)
        .await;
    let since = Some(json!({ "since": "2020-01-01T00:00:00Z" }));
    c.expect(
        Staff,
        post.clone(),
        Notification,
        &format!("{hook}/replay"),
        since.clone(),
        202,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Notification,
        &format!("{no_hook}/replay"),
        since.clone(),
        404,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Notification,
        &format!("{hook}/replay"),
        since,
        403,
    )
    .await;
    c.expect(As(ann), delete.clone(), Notification, &hook, None, 403)
        .await;
    c.expect(Staff, delete.clone(), Notification, &hook, None, 204)
        .await;
    c.expect(Staff, delete.clone(), Notification, &hook, None, 404)
        .await;
}

//! `GET /metrics`: after a checkout every service's counters and histograms have
//! moved; after a poison message the failure counters have.

use crate::helpers::{TestApp, eventually, spawn_app};
use cartflow_events::{OrderRequested, Service};
use cartflow_testkit::envelope_for;
use google_cloud_pubsub::model::Message;
use uuid::Uuid;

/// One scrape, in the Prometheus text format.
pub struct Scrape(String);

impl Scrape {
    pub async fn of(app: &TestApp, service: Service) -> Scrape {
        let response = app
            .http
            .get(format!("{}/metrics", app.url(service)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/plain"), "{kind}");
        Scrape(response.text().await.unwrap())
    }

    /// The sum of `name`'s series whose labels include every `key="value"` of `with`.
    pub fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (metric, labels) = series.split_once('{').unwrap_or((series, ""));
                let wanted = metric == name
                    && with
                        .iter()
                        .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\"")));
                wanted.then(|| value.parse::<f64>().ok()).flatten()
            })
            .sum()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_checkout_every_service_shows_its_counters_and_histograms_move() {
    let app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let customer = app.create_customer("Mo", "mo@example.com").await;
    app.wait_for_contact(customer, "mo@example.com").await;
    app.checkout(customer, "KB-1", 1).await;
    eventually("the confirmation email counted", || async {
        let scrape = Scrape::of(&app, Service::EmailPush).await;
        (scrape.sum("cartflow_emails_total", &[("result", "sent")]) >= 1.0).then_some(())
    })
    .await;

    let at_least_one = |scrape: &Scrape, name: &str, with: &[(&str, &str)]| {
        let value = scrape.sum(name, with);
        assert!(value >= 1.0, "{name} {with:?} = {value}");
    };
    let cart = Scrape::of(&app, Service::Cart).await;
    let convert = [
        ("service", "cart"),
        ("route", "/cart/convert-to-order"),
        ("status", "202"),
    ];
    at_least_one(&cart, "cartflow_http_requests_total", &convert);
    at_least_one(
        &cart,
        "cartflow_http_request_duration_seconds_count",
        &convert[..2],
    );
    at_least_one(&cart, "cartflow_checkouts_started_total", &[]);
    at_least_one(
        &cart,
        "cartflow_checkouts_ended_total",
        &[("outcome", "confirmed")],
    );
    at_least_one(
        &cart,
        "cartflow_checkout_duration_seconds_count",
        &[("outcome", "confirmed")],
    );
    at_least_one(
        &cart,
        "cartflow_upstream_calls_total",
        &[("upstream", "product"), ("result", "ok")],
    );
    for (service, subscription) in [
        (Service::Inventory, "inventory.order-requested"),
        (Service::Payment, "payment.order-requested"),
        (Service::Order, "order.stock-available"),
        (Service::Order, "order.payment.authorized"),
        (Service::Cart, "cart.order.created"),
        (Service::Notification, "notification.order.created"),
        (Service::EmailPush, "email-push.delivery.requested"),
    ] {
        let scrape = Scrape::of(&app, service).await;
        let processed = [("subscription", subscription), ("outcome", "processed")];
        at_least_one(&scrape, "cartflow_messages_total", &processed);
        let hop = [("service", service.name()), ("subscription", subscription)];
        at_least_one(&scrape, "cartflow_event_age_seconds_count", &hop);
        at_least_one(
            &scrape,
            "cartflow_consume_batch_duration_seconds_count",
            &hop,
        );
    }
    for (service, topic) in [
        (Service::Cart, "order-requested"),
        (Service::Inventory, "stock-available"),
        (Service::Order, "order.created"),
        (Service::Payment, "payment.authorized"),
        (Service::Customer, "customer.created"),
        (Service::Product, "product.changed"),
    ] {
        let scrape = Scrape::of(&app, service).await;
        at_least_one(
            &scrape,
            "cartflow_outbox_published_total",
            &[("service", service.name()), ("topic", topic)],
        );
    }
    // Payment: the authorization and the capture, and the provider's calls and latency.
    let payment = eventually("the capture counted", || async {
        let scrape = Scrape::of(&app, Service::Payment).await;
        (scrape.sum("cartflow_payment_captures_total", &[]) >= 1.0).then_some(scrape)
    })
    .await;
    at_least_one(
        &payment,
        "cartflow_payment_authorizations_total",
        &[("outcome", "approved")],
    );
    at_least_one(
        &payment,
        "cartflow_payment_provider_calls_total",
        &[("call", "authorize"), ("outcome", "approved")],
    );
    at_least_one(
        &payment,
        "cartflow_payment_provider_seconds_count",
        &[("call", "capture")],
    );
    let product = Scrape::of(&app, Service::Product).await;
    at_least_one(
        &product,
        "cartflow_http_requests_total",
        &[("service", "product"), ("route", "/products")],
    );
    assert!(
        product
            .0
            .contains("cartflow_outbox_waiting{service=\"order\"}"),
        "the outbox is sampled"
    );
    assert!(!cart.0.contains(&customer.to_string()), "no ids as labels");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_moves_the_failure_counters() {
    let app = spawn_app().await;
    let attributes = envelope_for::<OrderRequested>(Uuid::new_v4()).to_attributes();
    let poison = Message::new()
        .set_data(b"{ not json".to_vec())
        .set_attributes(attributes);
    app.publish_raw("order-requested", vec![poison]).await;
    let labels = [
        ("subscription", "inventory.order-requested"),
        ("outcome", "rejected"),
    ];
    eventually("the rejection counted", || async {
        let scrape = Scrape::of(&app, Service::Inventory).await;
        (scrape.sum("cartflow_messages_total", &labels) >= 1.0).then_some(())
    })
    .await;
    let scrape = Scrape::of(&app, Service::Inventory).await;
    let processed = [
        ("subscription", "inventory.order-requested"),
        ("outcome", "processed"),
    ];
    assert_eq!(scrape.sum("cartflow_messages_total", &processed), 0.0);
    app.stop().await;
}

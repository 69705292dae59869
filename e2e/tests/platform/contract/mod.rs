//! The HTTP contract (SPEC, "API conventions"): every route of every service is driven,
//! its success and each problem it documents, and every real answer is checked against
//! that service's own `GET /openapi.json` with a JSON Schema validator. An answer whose
//! route or status the document does not list, or whose body does not match its schema,
//! fails the test; so does a documented route, or a problem documented for one route,
//! that the drive never produced (unless `NOT_DRIVEN` says why).
//!
//! This module holds that test and what it excuses; the checker is in `harness`, the
//! drive of each group of routes in a module of its own, and the conventions the
//! documents do not show (paging, idempotency keys) in `paging` and `idempotency`.

mod catalog;
mod harness;
mod idempotency;
mod kit;
mod outcomes;
mod paging;
mod shopping;
mod webhooks;

use crate::helpers::spawn_app_with;
use cartflow_events::Service;
use harness::{Contract, validate};
use serde_json::json;
use uuid::Uuid;

/// Documented answers this test does not produce, and where they are shown instead.
const NOT_DRIVEN: &[(Service, &str, &str, u16, &str)] = &[
    (
        Service::Customer,
        "put",
        "/customers/{id}",
        403,
        "an email the token did not verify: OIDC only, auth::sign_up::sign_up_takes_the_tokens_verified_email_only_and_a_conflict_does_not_echo_it",
    ),
    (
        Service::Cart,
        "post",
        "/cart/items",
        503,
        "product not answering: catalog::with_product_hanging_known_skus_still_fill_carts_and_check_out and resilience::with_the_product_service_down_the_cart_answers_503_at_once_and_recovers",
    ),
    (
        Service::Payment,
        "get",
        "/payments/reconciliation",
        503,
        "the provider's ledger unreachable: the payment service's own tests",
    ),
    (
        Service::EmailPush,
        "get",
        "/push/{customer_id}/stream",
        429,
        "a sixth live stream: auth::streams::a_caller_holds_at_most_five_push_streams_at_once",
    ),
];

/// Documented answers of the kit's routes (on every service) this test does not
/// produce, and why.
const KIT_NOT_DRIVEN: &[(&str, &str, u16, &str)] = &[
    (
        "get",
        "/ready",
        503,
        "something the service needs down: reconnect::*, auth::tokens::with_the_issuer_down_*",
    ),
    (
        "get",
        "/admin/dead-letters",
        503,
        "Pub/Sub unreachable: needs the shared emulator stopped, which no admin test does",
    ),
    (
        "post",
        "/admin/dead-letters/replay",
        503,
        "Pub/Sub unreachable: needs the shared emulator stopped, which no admin test does",
    ),
];

/// The operator's token the drive's platform runs with.
const ADMIN_TOKEN: &str = "contract-admin-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_its_openapi_document_says() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let urls = cartflow_platform::SERVICES
        .into_iter()
        .map(|s| (s, app.url(s)))
        .collect();
    let mut c = Contract::load(urls).await;
    let (ann, bob, cy) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    use Service::*;

    // The catalog and its stock.
    catalog::drive(&mut c, ann).await;
    // Customers.
    shopping::drive_customers(&mut c, ann, bob, cy).await;
    // A partner's webhook endpoint, subscribed before the orders it hears of.
    let partner = webhooks::subscribe(&mut c, ann).await;
    // The cart and a checkout, and orders.
    shopping::drive_cart_and_orders(&mut c, &app, ann, bob).await;
    // Notifications, payments, emails and push.
    outcomes::drive(&mut c, &app, ann, bob).await;
    // Operating the webhook endpoint: every route, as staff, for no endpoint, and as a
    // customer.
    webhooks::operate(&mut c, &app, ann, &partner).await;

    // The kit's routes, on every service: probes, metrics, the document itself and
    // the operator's routes.
    for service in cartflow_platform::SERVICES {
        kit::drive(&mut c, service).await;
    }

    c.assert_covered();
    // The check can fail: a product with a numeric SKU is not what the document says.
    let product = "#/paths/~1products~1{sku}/get/responses/200/content/application~1json/schema";
    let wrong = json!({ "sku": 5, "name": "Keyboard", "price_cents": 1000, "version": 1 });
    assert!(validate(&c.documents[&Product], product, &wrong).is_err());
    app.stop().await;
}

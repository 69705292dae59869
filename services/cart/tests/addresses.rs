//! Cart's copy of each customer's saved address, kept from `customer.created` and
//! `customer.updated` on a database of its own: the newest details win whatever the
//! delivery order, a removed address stays removed, and a deleted customer's address is
//! forgotten and never comes back.

use cart_service::CartApp;
use cart_service::addresses;
use cart_service::handlers::CartHandler;
use cartflow_events::{
    CustomerCreated, CustomerDeleted, CustomerDetails, CustomerUpdated, Event, ShippingAddress,
};
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::{HandlerHarness, envelope_for};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

fn details(customer: Uuid, city: Option<&str>) -> CustomerDetails {
    CustomerDetails {
        customer_id: customer,
        name: "Ann".into(),
        email: "ann@example.com".into(),
        phone: None,
        address: city.map(|city| ShippingAddress {
            name: "Ann".into(),
            line1: "1 Main Street".into(),
            line2: None,
            city: city.into(),
            postal_code: "12345".into(),
            country: "US".into(),
        }),
    }
}

/// Delivers `event` as if it had happened at `at`.
async fn deliver_at<E: Event + Serialize>(cart: &HandlerHarness, event: &E, at: DateTime<Utc>) {
    let mut envelope = envelope_for::<E>(Uuid::new_v4());
    envelope.occurred_at = at;
    assert_eq!(
        cart.deliver_as(&envelope, event).await.unwrap(),
        Outcome::Processed
    );
}

async fn saved_city(cart: &HandlerHarness, customer: Uuid) -> Option<String> {
    addresses::saved(cart.pool(), customer)
        .await
        .unwrap()
        .map(|a| a.city)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_details_win_and_a_deleted_customers_address_never_comes_back() {
    let cart = HandlerHarness::new::<CartApp>(Arc::new(CartHandler)).await;
    let ann = Uuid::new_v4();
    let t = Utc::now();

    // The update arrives before the creation it follows: the creation changes nothing.
    deliver_at(
        &cart,
        &CustomerUpdated(details(ann, Some("Shelbyville"))),
        t,
    )
    .await;
    deliver_at(
        &cart,
        &CustomerCreated(details(ann, Some("Springfield"))),
        t - Duration::seconds(5),
    )
    .await;
    assert_eq!(saved_city(&cart, ann).await.as_deref(), Some("Shelbyville"));

    // A newer record without an address removes it, and an older one does not bring
    // it back.
    let removed = t + Duration::seconds(5);
    deliver_at(&cart, &CustomerUpdated(details(ann, None)), removed).await;
    assert_eq!(saved_city(&cart, ann).await, None);
    deliver_at(
        &cart,
        &CustomerUpdated(details(ann, Some("Ogdenville"))),
        removed - Duration::seconds(1),
    )
    .await;
    assert_eq!(saved_city(&cart, ann).await, None);
    deliver_at(
        &cart,
        &CustomerUpdated(details(ann, Some("Capital City"))),
        removed + Duration::seconds(1),
    )
    .await;
    assert_eq!(
        saved_city(&cart, ann).await.as_deref(),
        Some("Capital City")
    );

    // Deleted: forgotten, and details that arrive late are not kept.
    deliver_at(&cart, &CustomerDeleted { customer_id: ann }, Utc::now()).await;
    assert_eq!(saved_city(&cart, ann).await, None);
    deliver_at(
        &cart,
        &CustomerUpdated(details(ann, Some("North Haverbrook"))),
        Utc::now() + Duration::seconds(60),
    )
    .await;
    assert_eq!(saved_city(&cart, ann).await, None);
    let rows = cart.count("SELECT count(*) FROM saved_addresses").await;
    assert_eq!(rows, 0, "nothing of a deleted customer is kept");
}

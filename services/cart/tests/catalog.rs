//! Cart's copy of the catalog, kept from `product.changed` on a database of its own:
//! the newest version wins whatever the delivery order, and a copy changes nothing.

use cart_service::CartApp;
use cart_service::handlers::CartHandler;
use cartflow_events::{ProductChanged, Sku};
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::{HandlerHarness, envelope_for};
use std::sync::Arc;
use uuid::Uuid;

fn changed(price_cents: i64, active: bool, version: i64) -> ProductChanged {
    ProductChanged {
        sku: Sku::parse("KB-1").unwrap(),
        name: format!("Keyboard v{version}"),
        price_cents,
        active,
        version,
    }
}

async fn entry(cart: &HandlerHarness) -> Option<(String, i64, bool, i64)> {
    sqlx::query_as("SELECT name, price_cents, active, version FROM catalog WHERE sku = 'KB-1'")
        .fetch_optional(cart.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_version_of_a_product_wins_whatever_the_order_and_a_copy_changes_nothing() {
    let cart = HandlerHarness::new::<CartApp>(Arc::new(CartHandler)).await;

    let v2 = changed(1200, true, 2);
    let v2_envelope = envelope_for::<ProductChanged>(Uuid::new_v4());
    assert_eq!(
        cart.deliver_as(&v2_envelope, &v2).await.unwrap(),
        Outcome::Processed
    );
    assert_eq!(
        entry(&cart).await,
        Some(("Keyboard v2".into(), 1200, true, 2))
    );

    // An older change that arrives late is ignored.
    assert_eq!(
        cart.deliver(&changed(1000, true, 1)).await.unwrap(),
        Outcome::Processed
    );
    assert_eq!(
        entry(&cart).await,
        Some(("Keyboard v2".into(), 1200, true, 2))
    );

    // The same event again is skipped by the inbox; the same version re-published
    // under another id changes nothing either.
    assert_eq!(
        cart.deliver_as(&v2_envelope, &v2).await.unwrap(),
        Outcome::Duplicate
    );
    let mut renamed = v2.clone();
    renamed.name = "not newer".into();
    assert_eq!(cart.deliver(&renamed).await.unwrap(), Outcome::Processed);
    assert_eq!(
        entry(&cart).await,
        Some(("Keyboard v2".into(), 1200, true, 2))
    );

    // A deletion is a newer version that takes the SKU off sale.
    assert_eq!(
        cart.deliver(&changed(1200, false, 3)).await.unwrap(),
        Outcome::Processed
    );
    assert_eq!(
        entry(&cart).await,
        Some(("Keyboard v3".into(), 1200, false, 3))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_catalog_change_is_poison() {
    let cart = HandlerHarness::new::<CartApp>(Arc::new(CartHandler)).await;
    let applied = cart
        .deliver_json::<ProductChanged>(&serde_json::json!({"sku": "KB-1", "price_cents": "ten"}))
        .await;
    assert!(
        matches!(applied, Err(cartflow_messaging::HandlerError::Poison(_))),
        "{applied:?}"
    );
    assert_eq!(entry(&cart).await, None);
}

//! The contract drive of a customer's own routes: customers signing up and changing
//! their details, the cart and a checkout, and the orders it makes.

use super::harness::{Contract, Who};
use cartflow_e2e::TestApp;
use cartflow_events::Service;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// Ann, Bob and Cy sign up; Ann changes her details; staff list and delete Cy.
pub(super) async fn drive_customers(c: &mut Contract, ann: Uuid, bob: Uuid, cy: Uuid) {
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    use Service::*;
    use Who::{Customer as As, Staff};

    let signs_up = |name: &str, email: &str| json!({ "name": name, "email": email });
    c.expect(
        As(ann),
        post.clone(),
        Customer,
        "/customers",
        Some(signs_up("Ann", "ann@example.com")),
        201,
    )
    .await;
    let as_ann = json!({ "id": ann, "name": "Bob", "email": "bob@example.com" });
    c.expect(
        As(bob),
        post.clone(),
        Customer,
        "/customers",
        Some(as_ann),
        403,
    )
    .await;
    c.expect(
        As(bob),
        post.clone(),
        Customer,
        "/customers",
        Some(signs_up("Bob", "ann@example.com")),
        409,
    )
    .await;
    c.expect(
        As(bob),
        post.clone(),
        Customer,
        "/customers",
        Some(signs_up("Bob", "bob@example.com")),
        201,
    )
    .await;
    c.expect(
        As(cy),
        post.clone(),
        Customer,
        "/customers",
        Some(signs_up("Cy", "cy@example.com")),
        201,
    )
    .await;
    c.expect(Staff, get.clone(), Customer, "/customers", None, 200)
        .await;
    c.expect(As(ann), get.clone(), Customer, "/customers", None, 403)
        .await;
    let own = format!("/customers/{ann}");
    c.expect(As(ann), get.clone(), Customer, &own, None, 200)
        .await;
    c.expect(As(bob), get.clone(), Customer, &own, None, 404)
        .await;
    c.expect(
        As(ann),
        put.clone(),
        Customer,
        &own,
        Some(signs_up("Ann B", "ann@example.com")),
        200,
    )
    .await;
    c.expect(
        As(ann),
        put.clone(),
        Customer,
        &own,
        Some(signs_up("Ann B", "bob@example.com")),
        409,
    )
    .await;
    c.expect(
        As(bob),
        put.clone(),
        Customer,
        &own,
        Some(signs_up("Ann B", "ann@example.com")),
        404,
    )
    .await;
    let gone = format!("/customers/{cy}");
    c.expect(Staff, delete.clone(), Customer, &gone, None, 204)
        .await;
    c.expect(Staff, delete.clone(), Customer, &gone, None, 404)
        .await;
    c.expect(
        As(ann),
        get.clone(),
        Customer,
        "/customers/not-a-uuid",
        None,
        400,
    )
    .await;
}

/// Ann fills a cart and checks out, cancels the order, checks out again and staff
/// ship the second order; Bob sees none of it.
pub(super) async fn drive_cart_and_orders(c: &mut Contract, app: &TestApp, ann: Uuid, bob: Uuid) {
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    use Service::*;
    use Who::{Anonymous as Anon, Customer as As, Staff};

    // The cart and a checkout.
    c.expect(As(ann), get.clone(), Cart, "/cart", None, 404)
        .await;
    c.expect(Staff, get.clone(), Cart, "/cart", None, 403).await;
    c.expect(Anon, get.clone(), Cart, "/cart", None, 401).await;
    let line = |sku: &str, quantity: i32| json!({ "product_sku": sku, "quantity": quantity });
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/items",
        Some(line("KB-1", 1)),
        200,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Cart,
        "/cart/items",
        Some(line("KB-1", 1)),
        403,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/items",
        Some(line("NOPE", 1)),
        404,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/items",
        Some(line("KB-1", 0)),
        422,
    )
    .await;
    c.expect(As(ann), delete.clone(), Cart, "/cart/items/MS-1", None, 404)
        .await;
    c.expect(Staff, delete.clone(), Cart, "/cart/items/KB-1", None, 403)
        .await;
    c.expect(As(ann), delete.clone(), Cart, "/cart/items/KB-1", None, 200)
        .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/items",
        Some(line("KB-1", 1)),
        200,
    )
    .await;
    c.expect(As(ann), get.clone(), Cart, "/cart", None, 200)
        .await;
    let pay = serde_json::to_value(cartflow_api::cart::CheckoutRequest::paid_with(
        "pm_card_visa",
    ))
    .unwrap();
    c.expect(
        Staff,
        post.clone(),
        Cart,
        "/cart/convert-to-order",
        Some(pay.clone()),
        403,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/convert-to-order",
        Some(pay.clone()),
        202,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/convert-to-order",
        Some(pay.clone()),
        409,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/items",
        Some(line("KB-1", 1)),
        409,
    )
    .await;
    c.expect(As(ann), delete.clone(), Cart, "/cart/items/KB-1", None, 409)
        .await;
    let order = app.settled_cart(ann).await.order_id.expect("an order");

    // Orders.
    c.expect(As(ann), get.clone(), Order, "/orders", None, 200)
        .await;
    let path = format!("/orders/{order}");
    c.expect(As(ann), get.clone(), Order, &path, None, 200)
        .await;
    c.expect(As(bob), get.clone(), Order, &path, None, 404)
        .await;
    let status = format!("/orders/{order}/status");
    let set = |to: &str| Some(json!({ "status": to }));
    c.expect(Staff, put.clone(), Order, &status, set("bogus"), 422)
        .await;
    c.expect(As(ann), put.clone(), Order, &status, set("shipped"), 403)
        .await;
    let nowhere = format!("/orders/{}/status", Uuid::new_v4());
    c.expect(Staff, put.clone(), Order, &nowhere, set("shipped"), 404)
        .await;
    let cancel = format!("/orders/{order}/cancel");
    c.expect(As(bob), post.clone(), Order, &cancel, None, 404)
        .await;
    c.expect(As(ann), post.clone(), Order, &cancel, None, 200)
        .await;
    c.expect(As(ann), post.clone(), Order, &cancel, None, 409)
        .await;
    c.expect(Staff, put.clone(), Order, &status, set("shipped"), 409)
        .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/items",
        Some(line("KB-1", 1)),
        200,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Cart,
        "/cart/convert-to-order",
        Some(pay),
        202,
    )
    .await;
    let second = app
        .settled_cart(ann)
        .await
        .order_id
        .expect("a second order");
    c.expect(
        Staff,
        put.clone(),
        Order,
        &format!("/orders/{second}/status"),
        set("shipped"),
        200,
    )
    .await;
}

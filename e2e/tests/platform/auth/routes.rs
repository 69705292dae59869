//! Every route for anonymous, the owner, another customer and staff, from two tables:
//! what each may not do (and that the refusals change nothing), then what each may.

use super::{OK, Who, call, expect, sign_up};
use crate::helpers::issuer::TestIssuer;
use crate::helpers::{TestApp, eventually, spawn_app_signed_in};
use cartflow_events::Service;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// A listing as `who`, which must answer 200.
/// The items of a list's first page (each list here is short).
async fn list(app: &TestApp, who: Who, service: Service, path: &str) -> Value {
    let (status, list) = call(app, who, Method::GET, service, path, None).await;
    assert_eq!(status, OK, "{who:?} {path}");
    assert!(list["next_page_token"].is_null(), "{path}: {list}");
    list["items"].clone()
}

/// Every route that someone may not call: `caller method service path body status`.
/// Callers: `anonymous`, `ann` (the owner of everything named), `bob` (another
/// customer). `{order}` is Ann's order, `{note}` one of her notifications; bodies are
/// named in [`body`].
const REFUSED: &str = "
anonymous GET    cart         /cart                       -         401
anonymous POST   cart         /cart/items                 line      401
anonymous DELETE cart         /cart/items/KB-1            -         401
anonymous POST   cart         /cart/convert-to-order      -         401
anonymous GET    order        /orders                     -         401
anonymous GET    order        /orders/{order}             -         401
bob       GET    order        /orders/{order}             -         404
anonymous POST   order        /orders/{order}/cancel      -         401
bob       POST   order        /orders/{order}/cancel      -         404
anonymous PUT    order        /orders/{order}/status      shipped   401
ann       PUT    order        /orders/{order}/status      shipped   403
bob       PUT    order        /orders/{order}/status      shipped   403
anonymous GET    customer     /customers                  -         401
ann       GET    customer     /customers                  -         403
anonymous POST   customer     /customers                  mallory   401
bob       POST   customer     /customers                  someone   403
anonymous GET    customer     /customers/{ann}            -         401
bob       GET    customer     /customers/{ann}            -         404
anonymous PUT    customer     /customers/{ann}            mallory   401
bob       PUT    customer     /customers/{ann}            mallory   404
anonymous DELETE customer     /customers/{ann}            -         401
bob       DELETE customer     /customers/{ann}            -         404
anonymous GET    notification /notifications              -         401
anonymous GET    notification /notifications/{note}       -         401
bob       GET    notification /notifications/{note}       -         404
anonymous POST   notification /notifications              message   401
ann       POST   notification /notifications              message   403
anonymous GET    email-push   /emails                     -         401
anonymous GET    email-push   /push/{ann}                 -         401
bob       GET    email-push   /push/{ann}                 -         404
anonymous GET    email-push   /push/{ann}/stream          -         401
bob       GET    email-push   /push/{ann}/stream          -         404
anonymous POST   product      /products                   product   401
ann       POST   product      /products                   product   403
anonymous PUT    product      /products/KB-1              price     401
ann       PUT    product      /products/KB-1              price     403
ann       DELETE product      /products/KB-1              -         403
anonymous POST   inventory    /inventory                  stock     401
ann       POST   inventory    /inventory                  stock     403
ann       PUT    inventory    /inventory/KB-1             quantity  403
ann       DELETE inventory    /inventory/KB-1             -         403
anonymous GET    payment      /payments                   -         401
anonymous GET    payment      /payments/{payment}         -         401
bob       GET    payment      /payments/{payment}         -         404
anonymous GET    payment      /payments/reconciliation    -         401
ann       GET    payment      /payments/reconciliation    -         403
";

/// What each caller may do, in this order (changes last). `cy` deletes herself.
const ALLOWED: &str = "
anonymous GET    product      /products                   -         200
anonymous GET    product      /products/KB-1              -         200
anonymous GET    inventory    /inventory                  -         200
anonymous GET    inventory    /inventory/KB-1             -         200
ann       GET    cart         /cart                       -         200
ann       GET    order        /orders/{order}             -         200
ann       GET    customer     /customers/{ann}            -         200
ann       GET    notification /notifications/{note}       -         200
ann       GET    email-push   /push/{ann}                 -         200
ann       GET    email-push   /push/{ann}/stream          -         200
staff     GET    order        /orders/{order}             -         200
staff     GET    customer     /customers                  -         200
staff     GET    email-push   /push/{ann}                 -         200
ann       GET    payment      /payments/{payment}         -         200
ann       GET    payment      /payments                   -         200
staff     GET    payment      /payments/reconciliation    -         200
ann       PUT    customer     /customers/{ann}            rename    200
ann       POST   order        /orders/{other}/cancel      -         200
cy        DELETE customer     /customers/{cy}             -         204
staff     PUT    order        /orders/{order}/status      shipped   200
staff     POST   customer     /customers                  dee       201
staff     PUT    product      /products/KB-1              rename-kb 200
staff     PUT    inventory    /inventory/KB-1             quantity  200
staff     POST   notification /notifications              message   201
staff     POST   product      /products                   product   201
staff     DELETE product      /products/NEW-1             -         204
staff     POST   inventory    /inventory                  stock     201
staff     DELETE inventory    /inventory/NEW-1            -         204
";

fn body(name: &str, ann: Uuid) -> Option<Value> {
    Some(match name {
        "-" => return None,
        "line" => json!({ "product_sku": "KB-1", "quantity": 1 }),
        "shipped" => json!({ "status": "shipped" }),
        "mallory" => json!({ "name": "Mallory", "email": "ann@example.com" }),
        "someone" => json!({ "id": Uuid::new_v4(), "name": "X", "email": "x@example.com" }),
        "rename" => json!({ "name": "Ann B", "email": "ann@example.com" }),
        "dee" => json!({ "name": "Dee", "email": "dee@example.com" }),
        "message" => json!({ "customer_id": ann, "subject": "Hello", "body": "From the shop" }),
        "product" => json!({ "sku": "NEW-1", "name": "New", "price_cents": 1 }),
        "price" => json!({ "name": "Cheap", "price_cents": 1 }),
        "rename-kb" => json!({ "name": "Keyboard", "price_cents": 1200 }),
        "stock" => json!({ "sku": "NEW-1", "quantity": 5 }),
        "quantity" => json!({ "quantity": 40 }),
        other => panic!("no body named {other}"),
    })
}

/// Runs every line of `table` against `app`, with `{name}` filled from `names`.
async fn run_table(app: &TestApp, table: &str, callers: &[(&str, Who)], names: &[(&str, String)]) {
    let ann = match callers.iter().find(|(n, _)| *n == "ann") {
        Some((_, Who::Customer(id) | Who::Verified(id, _))) => *id,
        _ => panic!("the table needs ann"),
    };
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let [who, method, service, path, body_name, status] = line
            .split_whitespace()
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_else(|_| panic!("six columns expected: {line}"));
        let who = callers.iter().find(|(n, _)| *n == who).unwrap().1;
        let method: Method = method.parse().unwrap();
        let service: Service = service.parse().unwrap();
        let mut path = path.to_string();
        for (name, value) in names {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let status = StatusCode::from_u16(status.parse().unwrap()).unwrap();
        expect(
            app,
            who,
            method,
            service,
            &path,
            body(body_name, ann),
            status,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_the_owner_refuses_the_others_and_refusals_change_nothing() {
    let issuer = TestIssuer::start(true).await;
    let app = spawn_app_signed_in(&issuer, &[]).await;
    let (ann, bob, cy) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (owner, other) = (Who::Verified(ann, "ann@example.com"), Who::Customer(bob));
    app.create_product("KB-1", 1000, 50).await;
    sign_up(&app, ann, "Ann", "ann@example.com").await;
    sign_up(&app, bob, "Bob", "bob@example.com").await;
    sign_up(&app, cy, "Cy", "cy@example.com").await;
    app.wait_for_contact(ann, "ann@example.com").await;
    let order = app.checkout(ann, "KB-1", 1).await;
    let other_order = app.checkout(ann, "KB-1", 1).await;
    let payment = app
        .get_json(Service::Order, &format!("/orders/{order}"))
        .await["payment_id"]
        .as_str()
        .expect("the order's payment")
        .to_string();
    // Both orders' confirmations and receipts, by email and push: the saga has settled.
    let note = eventually("Ann's confirmations and receipts", || async {
        let (_, list) = call(
            &app,
            owner,
            Method::GET,
            Service::Notification,
            "/notifications",
            None,
        )
        .await;
        let list = list["items"].as_array().cloned().unwrap_or_default();
        (list.len() >= 8).then(|| list[0]["id"].as_str().unwrap().to_string())
    })
    .await;
    let callers = [
        ("anonymous", Who::Anonymous),
        ("ann", owner),
        ("bob", other),
        ("cy", Who::Customer(cy)),
        ("staff", Who::Staff),
    ];
    let names = [
        ("order", order),
        ("other", other_order),
        ("payment", payment),
        ("note", note),
        ("ann", ann.to_string()),
        ("cy", cy.to_string()),
    ];

    let before = snapshot(&app).await;
    run_table(&app, REFUSED, &callers, &names).await;
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request changes nothing"
    );

    // Lists are filtered to the caller; staff see everyone's.
    let owners = |list: Value, field: &str| -> Vec<String> {
        let items = list.as_array().unwrap().iter();
        items
            .map(|i| i[field].as_str().unwrap_or("-").to_string())
            .collect()
    };
    let ann_text = ann.to_string();
    let all_anns = |ids: &[String]| !ids.is_empty() && ids.iter().all(|c| *c == ann_text);
    assert!(all_anns(&owners(
        list(&app, owner, Service::Order, "/orders").await,
        "customer_id"
    )));
    assert!(all_anns(&owners(
        list(&app, owner, Service::EmailPush, "/emails").await,
        "customer_id"
    )));
    assert!(all_anns(&owners(
        list(&app, owner, Service::Notification, "/notifications").await,
        "customer_id"
    )));
    let for_ann = &format!("/orders?customer_id={ann}");
    assert_eq!(list(&app, other, Service::Order, for_ann).await, json!([]));
    assert_eq!(
        list(&app, other, Service::Order, "/orders").await,
        json!([])
    );
    assert!(
        !owners(
            list(&app, other, Service::EmailPush, "/emails").await,
            "customer_id"
        )
        .contains(&ann_text)
    );
    assert!(
        !owners(
            list(&app, other, Service::Notification, "/notifications").await,
            "customer_id"
        )
        .contains(&ann_text)
    );
    assert_eq!(
        list(&app, Who::Staff, Service::Order, for_ann)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        owners(
            list(&app, Who::Staff, Service::Notification, "/notifications").await,
            "customer_id"
        )
        .contains(&ann_text)
    );

    run_table(&app, ALLOWED, &callers, &names).await;
    app.stop().await;
}

/// Everything a refused request could have touched.
async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for (service, sql) in [
        (Service::Cart, "SELECT count(*) FROM cart_items"),
        (Service::Cart, "SELECT count(*) FROM outbox"),
        (
            Service::Order,
            "SELECT count(*) FROM orders WHERE status = 'confirmed'",
        ),
        (Service::Order, "SELECT count(*) FROM outbox"),
        (Service::Customer, "SELECT count(*) FROM customers"),
        (
            Service::Customer,
            "SELECT count(*) FROM customers WHERE name IN ('Mallory', 'X')",
        ),
        (Service::Customer, "SELECT count(*) FROM outbox"),
        (Service::Notification, "SELECT count(*) FROM notifications"),
        (
            Service::Product,
            "SELECT count(*) FROM products WHERE price_cents = 1000",
        ),
        (Service::Product, "SELECT count(*) FROM products"),
        (
            Service::Inventory,
            "SELECT sum(available)::bigint FROM stock_items",
        ),
        (Service::Inventory, "SELECT count(*) FROM stock_items"),
    ] {
        counts.push(app.count(service, sql).await);
    }
    counts
}

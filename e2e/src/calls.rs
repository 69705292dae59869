//! The REST calls the end-to-end tests make, as a client would: shoppers with their
//! customer header (or token), set-up and the tests' own checks as staff. What a test
//! reads comes typed (`Cart`, `Order`, `Notification`, from `cartflow_client`);
//! the calls whose status and problem body a test checks return the raw `Response`.

use super::{TestApp, eventually, eventually_within};
use cartflow_api::cart::{Cart, CartStatus};
use cartflow_api::notification::Notification;
use cartflow_api::order::Order;
use cartflow_events::Service;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

impl TestApp {
    /// Creates a customer through the customer service and returns its id.
    pub async fn create_customer(&self, name: &str, email: &str) -> Uuid {
        let response = self
            .staff
            .post(format!("{}/customers", self.url(Service::Customer)))
            .json(&json!({ "name": name, "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let customer: Value = response.json().await.unwrap();
        customer["id"].as_str().unwrap().parse().unwrap()
    }

    /// The customer's notifications, as staff see them.
    pub async fn notifications(&self, customer: Uuid) -> Vec<Notification> {
        self.notification_client()
            .list(customer)
            .await
            .unwrap_or_else(|e| panic!("GET /notifications?customer_id={customer}: {e}"))
    }

    /// A converted checkout of `quantity` × `sku` for `customer`; returns the order id.
    pub async fn checkout(&self, customer: Uuid, sku: &str, quantity: i32) -> String {
        self.add(customer, sku, quantity).await;
        assert_eq!(self.convert(customer).await.status(), StatusCode::ACCEPTED);
        let cart = self.settled_cart(customer).await;
        assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");
        cart.order_id.unwrap().to_string()
    }

    pub async fn create_product(&self, sku: &str, price_cents: i64, stock: i32) {
        let product = self.staff.post(format!("{}/products", self.url(Service::Product)),
        )
            .json(&json!({ "sku": sku, "name": format!("Product {sku}"), "price_cents": price_cents }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            product.status(),
            StatusCode::CREATED,
            "{}",
            product.text().await.unwrap()
        );
        let stock = self
            .staff
            .post(format!("{}/inventory", self.url(Service::Inventory)))
            .json(&json!({ "sku": sku, "quantity": stock }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            stock.status(),
            StatusCode::CREATED,
            "{}",
            stock.text().await.unwrap()
        );
    }

    pub async fn add_item(&self, customer: Uuid, sku: &str, quantity: i32) -> Response {
        self.as_customer(
            self.http
                .post(format!("{}/cart/items", self.url(Service::Cart))),
            customer,
        )
        .json(&json!({ "product_sku": sku, "quantity": quantity }))
        .send()
        .await
        .unwrap()
    }

    /// Adds a line and insists it worked.
    pub async fn add(&self, customer: Uuid, sku: &str, quantity: i32) -> Cart {
        self.cart_client()
            .add_item(customer, sku, quantity)
            .await
            .unwrap_or_else(|e| panic!("adding {quantity} x {sku}: {e}"))
    }

    pub async fn remove_item(&self, customer: Uuid, sku: &str) -> Response {
        self.as_customer(
            self.http
                .delete(format!("{}/cart/items/{sku}", self.url(Service::Cart))),
            customer,
        )
        .send()
        .await
        .unwrap()
    }

    /// Converts the customer's cart, paid with the sandbox's approving test card.
    pub async fn convert(&self, customer: Uuid) -> Response {
        let checkout = cartflow_api::cart::CheckoutRequest::paid_with(
            cartflow_api::cart::CheckoutRequest::TEST_CARD,
        );
        self.convert_with(customer, &serde_json::to_value(checkout).unwrap())
            .await
    }

    /// Converts the customer's cart with `body` as the checkout's request.
    pub async fn convert_with(&self, customer: Uuid, body: &serde_json::Value) -> Response {
        self.as_customer(
            self.http
                .post(format!("{}/cart/convert-to-order", self.url(Service::Cart))),
            customer,
        )
        .json(body)
        .send()
        .await
        .unwrap()
    }

    pub async fn cart(&self, customer: Uuid) -> Response {
        self.as_customer(
            self.http.get(format!("{}/cart", self.url(Service::Cart))),
            customer,
        )
        .send()
        .await
        .unwrap()
    }

    /// Waits until the customer's cart has left checkout_pending, and returns it.
    pub async fn settled_cart(&self, customer: Uuid) -> Cart {
        let client = self.cart_client();
        eventually("the checkout to end", || async {
            let cart = client.cart(customer).await.ok()?;
            settled(&cart).then_some(cart)
        })
        .await
    }

    /// Waits (up to `within`) until every one of `customers`' carts has left
    /// checkout_pending, and returns them.
    pub async fn settled_carts(&self, customers: &[Uuid], within: Duration) -> Vec<Cart> {
        let client = &self.cart_client();
        eventually_within(within, "every checkout to end", || async {
            let carts: Vec<Cart> = futures::future::join_all(
                customers
                    .iter()
                    .map(|&c| async move { client.cart(c).await.ok() }),
            )
            .await
            .into_iter()
            .collect::<Option<_>>()?;
            carts.iter().all(settled).then_some(carts)
        })
        .await
    }

    /// GETs `path` of `service` as staff (who see everything), expecting 200 and JSON.
    pub async fn get_json(&self, service: Service, path: &str) -> Value {
        let url = format!("{}{path}", self.url(service));
        let response = self.staff.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// (available, reserved) of a SKU.
    pub async fn stock(&self, sku: &str) -> (i64, i64) {
        let item = self
            .get_json(Service::Inventory, &format!("/inventory/{sku}"))
            .await;
        (
            item["quantity"].as_i64().unwrap(),
            item["reserved"].as_i64().unwrap(),
        )
    }

    /// The orders matching `query` (`customer_id=…`, `status=…`, `cart_id=…`; empty:
    /// all), as staff see them.
    pub async fn orders(&self, query: &str) -> Vec<Order> {
        self.order_client()
            .list(query)
            .await
            .unwrap_or_else(|e| panic!("GET /orders?{query}: {e}"))
    }

    /// One order, as staff see it.
    pub async fn order(&self, id: Uuid) -> Order {
        self.order_client()
            .get(id)
            .await
            .unwrap_or_else(|e| panic!("GET /orders/{id}: {e}"))
    }

    /// Cancels as staff (a customer's own cancel is in `auth.rs`).
    pub async fn cancel(&self, order_id: &str, body: Option<Value>) -> Response {
        let request = self.staff.post(format!(
            "{}/orders/{order_id}/cancel",
            self.url(Service::Order)
        ));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.unwrap()
    }

    /// A bug in inventory's database: every reservation of `sku` fails (a trigger
    /// raises), as a broken release would. [`TestApp::fix_reservation_bug`] undoes it.
    pub async fn inject_reservation_bug(&self, sku: &str) {
        sqlx::raw_sql(&format!(
            "CREATE FUNCTION the_bug() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'injected bug: {sku} cannot be reserved'; END $$;
             CREATE TRIGGER the_bug BEFORE UPDATE ON stock_items
               FOR EACH ROW WHEN (NEW.sku = '{sku}') EXECUTE FUNCTION the_bug();"
        ))
        .execute(self.pool(Service::Inventory))
        .await
        .unwrap();
    }

    pub async fn fix_reservation_bug(&self) {
        sqlx::raw_sql("DROP TRIGGER the_bug ON stock_items; DROP FUNCTION the_bug();")
            .execute(self.pool(Service::Inventory))
            .await
            .unwrap();
    }

    /// A new customer checks out `quantity` × `sku` with order stopped (it stays
    /// stopped): the saga waits at order's door.
    pub async fn convert_with_order_down(&mut self, sku: &str, quantity: i32) -> Uuid {
        let customer = Uuid::new_v4();
        self.platform_mut()
            .stop_service(Service::Order)
            .await
            .unwrap();
        self.add(customer, sku, quantity).await;
        assert_eq!(self.convert(customer).await.status(), StatusCode::ACCEPTED);
        customer
    }
}

/// The checkout has ended, one way or the other.
fn settled(cart: &Cart) -> bool {
    cart.status.is_an_ending()
}

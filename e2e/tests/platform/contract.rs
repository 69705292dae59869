//! The HTTP contract (SPEC, "API conventions"): every route of every service is driven,
//! its success and each problem it documents, and every real answer is checked against
//! that service's own `GET /openapi.json` with a JSON Schema validator. An answer whose
//! route or status the document does not list, or whose body does not match its schema,
//! fails the test; so does a documented route, or a problem documented for one route,
//! that the drive never produced (unless `NOT_DRIVEN` says why).

use crate::helpers::{eventually, spawn_app, spawn_app_with};
use cartflow_events::Service;
use cartflow_testkit::webhook_receiver::{Behaviour, Receiver};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Documented answers this test does not produce, and where they are shown instead.
const NOT_DRIVEN: &[(Service, &str, &str, u16, &str)] = &[
    (
        Service::Customer,
        "put",
        "/customers/{id}",
        403,
        "an email the token did not verify: OIDC only, auth::a_customer_signs_up_only_with_the_email_their_token_verified",
    ),
    (
        Service::Cart,
        "post",
        "/cart/items",
        503,
        "product not answering: catalog::an_unknown_sku_is_a_503_once_the_timeout_fires",
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
        "a sixth live stream: auth::push_streams_are_capped_per_caller",
    ),
];

/// Documented answers of the kit's routes (on every service) this test does not
/// produce, and why.
const KIT_NOT_DRIVEN: &[(&str, &str, u16, &str)] = &[
    (
        "get",
        "/ready",
        503,
        "something the service needs down: reconnect::*, auth::with_the_issuer_down_*",
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

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Customer(Uuid),
    Staff,
    Operator,
}

struct Contract {
    http: reqwest::Client,
    urls: BTreeMap<Service, String>,
    documents: BTreeMap<Service, Value>,
    /// (service, method, route, status) of every answer checked.
    seen: BTreeSet<(Service, String, String, u16)>,
}

impl Contract {
    async fn load(urls: BTreeMap<Service, String>) -> Contract {
        let http = reqwest::Client::new();
        let mut documents = BTreeMap::new();
        for (service, url) in &urls {
            let document: Value = http
                .get(format!("{url}/openapi.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(document["openapi"], "3.1.0", "{service}");
            assert!(
                document["paths"].as_object().is_some_and(|p| !p.is_empty()),
                "{service}"
            );
            documents.insert(*service, document);
        }
        Contract {
            http,
            urls,
            documents,
            seen: BTreeSet::new(),
        }
    }

    /// Sends the request and checks the answer against the document; returns it.
    async fn call(
        &mut self,
        who: Who,
        method: Method,
        service: Service,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.urls[&service]));
        request = match who {
            Who::Anonymous => request,
            Who::Customer(id) => request.header("x-customer-id", id.to_string()),
            Who::Staff => request.header("x-role", "staff"),
            Who::Operator => request.bearer_auth(ADMIN_TOKEN),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // A live stream never ends: its head is the answer.
        let text = match content_type.starts_with("text/event-stream") {
            true => String::new(),
            false => response.text().await.unwrap(),
        };
        let answer = self.check(service, &method, path, status, &content_type, &text);
        (status, answer)
    }

    /// Like `call`, expecting `status`.
    async fn expect(
        &mut self,
        who: Who,
        method: Method,
        service: Service,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let (got, answer) = self.call(who, method.clone(), service, path, body).await;
        assert_eq!(got, status, "{who:?} {method} {service} {path}: {answer}");
        answer
    }

    fn check(
        &mut self,
        service: Service,
        method: &Method,
        path: &str,
        status: u16,
        content_type: &str,
        text: &str,
    ) -> Value {
        let document = &self.documents[&service];
        let route = route_of(document, path)
            .unwrap_or_else(|| panic!("{service}: {path} is not in its /openapi.json"));
        let method = method.as_str().to_lowercase();
        let operation = &document["paths"][&route][&method];
        assert!(
            operation.is_object(),
            "{service}: {method} {route} is not documented"
        );
        let mut pointer = format!("/paths/{}/{method}/responses/{status}", escape(&route));
        let mut answer = document.pointer(&pointer).unwrap_or_else(|| {
            panic!("{service} {method} {route}: status {status} is not documented: {text}")
        });
        if let Some(target) = answer["$ref"].as_str() {
            pointer = target.trim_start_matches('#').to_string();
            answer = document.pointer(&pointer).expect("a $ref that resolves");
        }
        let body: Value = match text.is_empty() {
            true => Value::Null,
            false => serde_json::from_str(text).unwrap_or(Value::String(text.to_string())),
        };
        if let Some(content) = answer["content"].as_object() {
            let media = content_type.split(';').next().unwrap_or("").trim();
            assert!(
                content.contains_key(media),
                "{service} {method} {route} {status}: answered {media}, documented {:?}",
                content.keys().collect::<Vec<_>>()
            );
            if media.ends_with("json") {
                let schema = format!("#{pointer}/content/{}/schema", escape(media));
                validate(document, &schema, &body)
                    .unwrap_or_else(|e| panic!("{service} {method} {route} {status}: {e}\n{body}"));
            }
            if media == "application/problem+json" {
                let instance = body["instance"].as_str().unwrap_or("");
                assert!(instance.starts_with("urn:cartflow:request:"), "{body}");
            }
        }
        self.seen.insert((service, method, route, status));
        body
    }

    /// Walks the list at `path` a page of one at a time and checks the walk gives what
    /// one big page gives, in the same order, each item once (by id: an item's state may
    /// move on meanwhile, and rows added meanwhile may appear too).
    async fn walk_pages(&mut self, who: Who, service: Service, path: &str) {
        let joiner = if path.contains('?') { '&' } else { '?' };
        let whole = self
            .expect(
                who,
                Method::GET,
                service,
                &format!("{path}{joiner}page_size=500"),
                None,
                200,
            )
            .await;
        assert!(
            whole["next_page_token"].is_null(),
            "{service} {path}: {whole}"
        );
        let mut walked = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut page = format!("{path}{joiner}page_size=1");
            if let Some(token) = &token {
                page.push_str(&format!("&page_token={token}"));
            }
            let answer = self
                .expect(who, Method::GET, service, &page, None, 200)
                .await;
            walked.extend(answer["items"].as_array().unwrap().iter().cloned());
            match answer["next_page_token"].as_str() {
                Some(next) => token = Some(next.to_string()),
                None => break,
            }
            assert!(
                walked.len() <= 500,
                "{service} {path}: the walk does not end"
            );
        }
        let id = |item: &Value| item.get("event_id").unwrap_or(&item["id"]).to_string();
        let whole: Vec<String> = whole["items"].as_array().unwrap().iter().map(id).collect();
        let walked: Vec<String> = walked.iter().map(id).collect();
        let distinct: BTreeSet<&String> = walked.iter().collect();
        assert_eq!(distinct.len(), walked.len(), "{service} {path}: {walked:?}");
        let known: Vec<&String> = walked.iter().filter(|w| whole.contains(w)).collect();
        assert_eq!(known, whole.iter().collect::<Vec<_>>(), "{service} {path}");
    }

    /// Every documented route was called, and every problem a route documents itself
    /// was produced (the shared answers, by `$ref`, are checked wherever they occur).
    fn assert_covered(&self) {
        let mut missing = Vec::new();
        for (service, document) in &self.documents {
            for (route, item) in document["paths"].as_object().unwrap() {
                for (method, operation) in item.as_object().unwrap() {
                    let called = self
                        .seen
                        .iter()
                        .any(|(s, m, r, _)| s == service && m == method && r == route);
                    if !called {
                        missing.push(format!("{service} {method} {route}: never called"));
                    }
                    for (status, answer) in operation["responses"].as_object().unwrap() {
                        let status: u16 = status.parse().unwrap();
                        let own = answer.get("$ref").is_none();
                        let seen =
                            self.seen
                                .contains(&(*service, method.clone(), route.clone(), status));
                        let excused = NOT_DRIVEN.iter().any(|(s, m, r, st, _)| {
                            s == service && m == method && r == route && *st == status
                        }) || KIT_NOT_DRIVEN
                            .iter()
                            .any(|(m, r, st, _)| m == method && r == route && *st == status);
                        if own && !seen && !excused {
                            missing.push(format!(
                                "{service} {method} {route}: {status} never produced"
                            ));
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "not driven:\n{}", missing.join("\n"));
    }
}

/// JSON pointer escaping of one token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The documented route `path` is an instance of: literal segments before parameters.
fn route_of(document: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    document["paths"]
        .as_object()?
        .keys()
        .filter(|route| {
            let parts: Vec<&str> = route.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
        })
        .max_by_key(|route| route.split('/').filter(|p| !p.starts_with('{')).count())
        .cloned()
}

/// Validates `body` against the schema at `pointer` inside the document, so that its
/// `$ref`s to `#/components/...` resolve (the document, with a root `$ref`, is itself
/// a JSON Schema 2020-12 whose other keywords are unknown and ignored).
fn validate(document: &Value, pointer: &str, body: &Value) -> Result<(), String> {
    let mut schema = document.clone();
    // A fragment is part of a URI: braces of a route's parameters are percent-encoded.
    schema["$ref"] = json!(pointer.replace('{', "%7B").replace('}', "%7D"));
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .map_err(|e| format!("the schema at {pointer} does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    match errors.is_empty() {
        true => Ok(()),
        false => Err(errors.join("; ")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_its_openapi_document_says() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let urls = cartflow_platform::SERVICES
        .into_iter()
        .map(|s| (s, app.url(s)))
        .collect();
    let mut c = Contract::load(urls).await;
    let (ann, bob, cy) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    use Service::*;
    use Who::{Anonymous as Anon, Customer as As, Staff};

    // The catalog and its stock.
    let keyboard = json!({ "sku": "KB-1", "name": "Keyboard", "price_cents": 1000 });
    c.expect(
        Staff,
        post.clone(),
        Product,
        "/products",
        Some(keyboard.clone()),
        201,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Product,
        "/products",
        Some(keyboard.clone()),
        409,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Product,
        "/products",
        Some(keyboard),
        403,
    )
    .await;
    let temporary = json!({ "sku": "TMP-1", "name": "Temporary", "price_cents": 1 });
    c.expect(
        Staff,
        post.clone(),
        Product,
        "/products",
        Some(temporary),
        201,
    )
    .await;
    let page = c
        .expect(
            Anon,
            get.clone(),
            Product,
            "/products?page_size=1",
            None,
            200,
        )
        .await;
    let token = page["next_page_token"]
        .as_str()
        .expect("two products, pages of one");
    let next = format!("/products?page_size=1&page_token={token}");
    let page = c.expect(Anon, get.clone(), Product, &next, None, 200).await;
    assert_eq!(page["items"][0]["sku"], "TMP-1");
    assert!(page["next_page_token"].is_null());
    c.expect(
        Anon,
        get.clone(),
        Product,
        "/products?page_size=501",
        None,
        422,
    )
    .await;
    c.expect(
        Anon,
        get.clone(),
        Product,
        "/products?colour=red",
        None,
        400,
    )
    .await;
    c.expect(Anon, get.clone(), Product, "/products/KB-1", None, 200)
        .await;
    c.expect(Anon, get.clone(), Product, "/products/NOPE", None, 404)
        .await;
    let fields = json!({ "name": "Keyboard", "price_cents": 1200 });
    c.expect(
        Staff,
        put.clone(),
        Product,
        "/products/KB-1",
        Some(fields.clone()),
        200,
    )
    .await;
    c.expect(
        Staff,
        put.clone(),
        Product,
        "/products/NOPE",
        Some(fields.clone()),
        404,
    )
    .await;
    c.expect(
        As(ann),
        put.clone(),
        Product,
        "/products/KB-1",
        Some(fields),
        403,
    )
    .await;
    let bad = json!({ "name": "", "price_cents": 1 });
    let problem = c
        .expect(
            Staff,
            put.clone(),
            Product,
            "/products/KB-1",
            Some(bad),
            422,
        )
        .await;
    assert!(
        problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{problem}"
    );
    let wrong_type = json!({ "name": "Keyboard", "price_cents": "ten" });
    let problem = c
        .expect(
            Staff,
            put.clone(),
            Product,
            "/products/KB-1",
            Some(wrong_type),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["pointer"], "/price_cents", "{problem}");
    c.expect(
        As(ann),
        delete.clone(),
        Product,
        "/products/TMP-1",
        None,
        403,
    )
    .await;
    c.expect(Staff, delete.clone(), Product, "/products/TMP-1", None, 204)
        .await;
    c.expect(Staff, delete.clone(), Product, "/products/TMP-1", None, 404)
        .await;

    let stock = json!({ "sku": "KB-1", "quantity": 10 });
    c.expect(
        Staff,
        post.clone(),
        Inventory,
        "/inventory",
        Some(stock.clone()),
        201,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Inventory,
        "/inventory",
        Some(stock.clone()),
        409,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Inventory,
        "/inventory",
        Some(stock),
        403,
    )
    .await;
    let temporary = json!({ "sku": "TMP-1", "quantity": 1 });
    c.expect(
        Staff,
        post.clone(),
        Inventory,
        "/inventory",
        Some(temporary),
        201,
    )
    .await;
    c.expect(Anon, get.clone(), Inventory, "/inventory", None, 200)
        .await;
    c.expect(Anon, get.clone(), Inventory, "/inventory/KB-1", None, 200)
        .await;
    c.expect(Anon, get.clone(), Inventory, "/inventory/NOPE", None, 404)
        .await;
    let count = json!({ "quantity": 20 });
    c.expect(
        Staff,
        put.clone(),
        Inventory,
        "/inventory/KB-1",
        Some(count.clone()),
        200,
    )
    .await;
    c.expect(
        Staff,
        put.clone(),
        Inventory,
        "/inventory/NOPE",
        Some(count.clone()),
        404,
    )
    .await;
    c.expect(
        As(ann),
        put.clone(),
        Inventory,
        "/inventory/KB-1",
        Some(count),
        403,
    )
    .await;
    let negative = json!({ "quantity": -1 });
    let problem = c
        .expect(
            Staff,
            put.clone(),
            Inventory,
            "/inventory/KB-1",
            Some(negative),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["pointer"], "/quantity", "{problem}");
    c.expect(
        As(ann),
        delete.clone(),
        Inventory,
        "/inventory/TMP-1",
        None,
        403,
    )
    .await;
    c.expect(
        Staff,
        delete.clone(),
        Inventory,
        "/inventory/TMP-1",
        None,
        204,
    )
    .await;
    c.expect(
        Staff,
        delete.clone(),
        Inventory,
        "/inventory/TMP-1",
        None,
        404,
    )
    .await;

    // Customers.
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

    // A partner's webhook endpoint, subscribed before the orders it hears of.
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

    // Notifications, payments, emails and push.
    let notes = eventually("Ann's notifications", || async {
        let url = format!("{}/notifications", app.url(Notification));
        let page: Value = app
            .as_customer(app.http.get(url), ann)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (page["items"].as_array()?.len() >= 4).then_some(page)
    })
    .await;
    c.expect(
        As(ann),
        get.clone(),
        Notification,
        "/notifications",
        None,
        200,
    )
    .await;
    let note = format!(
        "/notifications/{}",
        notes["items"][0]["id"].as_str().unwrap()
    );
    c.expect(As(ann), get.clone(), Notification, &note, None, 200)
        .await;
    c.expect(As(bob), get.clone(), Notification, &note, None, 404)
        .await;
    let manual =
        |to: Uuid| Some(json!({ "customer_id": to, "subject": "Hello", "body": "A note." }));
    c.expect(
        Staff,
        post.clone(),
        Notification,
        "/notifications",
        manual(ann),
        201,
    )
    .await;
    c.expect(
        Staff,
        post.clone(),
        Notification,
        "/notifications",
        manual(Uuid::new_v4()),
        404,
    )
    .await;
    c.expect(
        As(ann),
        post.clone(),
        Notification,
        "/notifications",
        manual(ann),
        403,
    )
    .await;

    let payments = c
        .expect(As(ann), get.clone(), Payment, "/payments", None, 200)
        .await;
    let payment = format!(
        "/payments/{}",
        payments["items"][0]["id"].as_str().expect("Ann's payment")
    );
    c.expect(As(ann), get.clone(), Payment, &payment, None, 200)
        .await;
    c.expect(As(bob), get.clone(), Payment, &payment, None, 404)
        .await;
    c.expect(
        Staff,
        get.clone(),
        Payment,
        "/payments/reconciliation",
        None,
        200,
    )
    .await;
    c.expect(
        As(ann),
        get.clone(),
        Payment,
        "/payments/reconciliation",
        None,
        403,
    )
    .await;

    c.expect(As(ann), get.clone(), EmailPush, "/emails", None, 200)
        .await;
    let inbox = format!("/push/{ann}");
    c.expect(As(ann), get.clone(), EmailPush, &inbox, None, 200)
        .await;
    c.expect(As(bob), get.clone(), EmailPush, &inbox, None, 404)
        .await;
    let stream = format!("/push/{ann}/stream");
    c.expect(As(ann), get.clone(), EmailPush, &stream, None, 200)
        .await;
    c.expect(As(bob), get.clone(), EmailPush, &stream, None, 404)
        .await;

    // Operating the webhook endpoint: every route, as staff, for no endpoint, and as a
    // customer.
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
    c.expect(Staff, post.clone(), Notification, &replay, None, 202)
        .await;
    c.expect(Staff, post.clone(), Notification, &replay, None, 409)
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

    // The kit's routes, on every service: probes, metrics, the document itself and
    // the operator's routes.
    for service in cartflow_platform::SERVICES {
        drive_kit_routes(&mut c, service).await;
    }

    c.assert_covered();
    // The check can fail: a product with a numeric SKU is not what the document says.
    let product = "#/paths/~1products~1{sku}/get/responses/200/content/application~1json/schema";
    let wrong = json!({ "sku": 5, "name": "Keyboard", "price_cents": 1000, "version": 1 });
    assert!(validate(&c.documents[&Product], product, &wrong).is_err());
    app.stop().await;
}

/// Drives the routes every service gets from the kit.
async fn drive_kit_routes(c: &mut Contract, service: Service) {
    use Who::{Anonymous as Anon, Operator};
    let (get, post) = (Method::GET, Method::POST);
    for path in ["/health", "/ready", "/metrics", "/openapi.json"] {
        c.expect(Anon, get.clone(), service, path, None, 200).await;
    }
    // `/ready` is limited per address: a flood meets 429 within its burst.
    let mut limited = false;
    for _ in 0..300 {
        if c.call(Anon, get.clone(), service, "/ready", None).await.0 == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "{service}: /ready never answered 429");

    let events = c
        .expect(Operator, get.clone(), service, "/admin/events", None, 200)
        .await;
    // A dry replay of the first logged event (of a service that logged one).
    let first = events["items"][0]["event_id"].as_str();
    if first.is_some() {
        let log = format!(
            "/admin/events?event_type={}&page_size=1",
            events["items"][0]["event_type"].as_str().unwrap()
        );
        c.expect(Operator, get.clone(), service, &log, None, 200)
            .await;
    }
    let replay = match first {
        Some(first) => json!({ "event_ids": [first], "dry_run": true }),
        None => json!({ "event_type": "order.created", "dry_run": true }),
    };
    let replay_path = "/admin/events/replay";
    let answer = c
        .expect(
            Operator,
            post.clone(),
            service,
            replay_path,
            Some(replay),
            200,
        )
        .await;
    if first.is_some() {
        assert_eq!(answer["matched"], 1, "{service}: {answer}");
    }
    c.expect(
        Operator,
        post.clone(),
        service,
        "/admin/events/replay",
        Some(json!({})),
        422,
    )
    .await;
    c.expect(Anon, get.clone(), service, "/admin/events", None, 401)
        .await;
    c.expect(Operator, get.clone(), service, "/admin/failures", None, 200)
        .await;
    c.walk_pages(Operator, service, "/admin/events").await;
    c.walk_pages(Operator, service, "/admin/failures").await;
    c.expect(
        Operator,
        get.clone(),
        service,
        "/admin/dead-letters",
        None,
        200,
    )
    .await;
    let dry = json!({ "dry_run": true });
    c.expect(
        Operator,
        post.clone(),
        service,
        "/admin/dead-letters/replay",
        Some(dry),
        200,
    )
    .await;
    let elsewhere = json!({ "subscription": "nobody.dead-letter", "dry_run": true });
    c.expect(
        Operator,
        post,
        service,
        "/admin/dead-letters/replay",
        Some(elsewhere),
        422,
    )
    .await;
}

/// 1,234 orders of one customer, walked in pages of 100 while more are being created:
/// each of the first 1,234 exactly once, none skipped, newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_is_walked_page_by_page_without_a_duplicate_or_a_gap() {
    let app = spawn_app().await;
    let customer = Uuid::new_v4();
    let pool = app.pool(Service::Order).clone();
    let insert = move |n: i64, pool: sqlx::PgPool| async move {
        sqlx::query(
            "INSERT INTO orders (id, cart_id, checkout_id, customer_id, status, total_cents)
             SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), $1, 'confirmed', 100
             FROM generate_series(1, $2)",
        )
        .bind(customer)
        .bind(n)
        .execute(&pool)
        .await
        .unwrap();
    };
    insert(1234, pool.clone()).await;
    let existing: BTreeSet<Uuid> = sqlx::query_scalar("SELECT id FROM orders")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(existing.len(), 1234);
    // New orders keep arriving while the list is walked.
    let writer = tokio::spawn({
        let pool = pool.clone();
        async move {
            for _ in 0..20 {
                insert(5, pool.clone()).await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    });
    let (mut walked, mut token, mut pages) = (Vec::<Uuid>::new(), None::<String>, 0);
    let mut previous: Option<(String, Uuid)> = None;
    loop {
        let mut query = format!("customer_id={customer}&page_size=100");
        if let Some(token) = &token {
            query.push_str(&format!("&page_token={token}"));
        }
        let page = app
            .get_json(Service::Order, &format!("/orders?{query}"))
            .await;
        pages += 1;
        for order in page["items"].as_array().unwrap() {
            let key = (
                order["created_at"].as_str().unwrap().to_string(),
                order["id"].as_str().unwrap().parse().unwrap(),
            );
            if let Some(previous) = &previous {
                // RFC 3339 in UTC with the same precision sorts as text.
                assert!(key < *previous, "newest first: {key:?} after {previous:?}");
            }
            walked.push(key.1);
            previous = Some(key);
        }
        match page["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    writer.await.unwrap();
    let unique: BTreeSet<Uuid> = walked.iter().copied().collect();
    assert_eq!(unique.len(), walked.len(), "no order twice");
    assert!(
        existing.is_subset(&unique),
        "every order there before the walk, once"
    );
    assert!(pages >= 13, "{pages} pages");
    // A token edited, or used with other filters, is refused.
    let page = app
        .get_json(
            Service::Order,
            &format!("/orders?customer_id={customer}&page_size=10"),
        )
        .await;
    let token = page["next_page_token"].as_str().unwrap();
    for query in [
        format!(
            "customer_id={customer}&page_token={}x",
            &token[..token.len() - 1]
        ),
        format!("status=shipped&customer_id={customer}&page_token={token}"),
    ] {
        let url = format!("{}/orders?{query}", app.url(Service::Order));
        let response = app.staff.get(url).send().await.unwrap();
        assert_eq!(response.status(), 422, "{query}");
    }
    app.stop().await;
}

/// `POST /cart/convert-to-order` as `customer` with an idempotency key.
async fn convert(
    app: &cartflow_e2e::TestApp,
    customer: Uuid,
    key: &str,
    body: Value,
) -> reqwest::Result<reqwest::Response> {
    let url = format!("{}/cart/convert-to-order", app.url(Service::Cart));
    app.as_customer(app.http.post(url), customer)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
}

/// The same convert sent twice at once and twice in sequence with one key makes one
/// checkout; the same key with another body is a 422; after the cart service restarts
/// the stored answer is still given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_makes_a_retried_convert_one_checkout() {
    let mut app = spawn_app().await;
    app.create_product("KB-1", 1000, 10).await;
    let ann = Uuid::new_v4();
    app.add(ann, "KB-1", 1).await;
    let pay = serde_json::to_value(cartflow_api::cart::CheckoutRequest::paid_with(
        "pm_card_visa",
    ))
    .unwrap();
    let (first, second) = tokio::join!(
        convert(&app, ann, "k-1", pay.clone()),
        convert(&app, ann, "k-1", pay.clone())
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort();
    // Together: one made the checkout; the other was either replayed or told the
    // first is in flight. Never two checkouts.
    assert!(matches!(statuses, [202, 202] | [202, 409]), "{statuses:?}");
    let bodies: Vec<Value> = vec![first.json().await.unwrap(), second.json().await.unwrap()];
    let accepted: BTreeSet<String> = bodies
        .iter()
        .filter_map(|b| b["checkout_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(accepted.len(), 1, "{bodies:?}");
    let again = convert(&app, ann, "k-1", pay.clone()).await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replayed: Value = again.json().await.unwrap();
    assert_eq!(
        replayed["checkout_id"].as_str(),
        accepted.iter().next().map(String::as_str)
    );
    let other = serde_json::to_value(cartflow_api::cart::CheckoutRequest::paid_with(
        "pm_card_mastercard",
    ))
    .unwrap();
    let refused = convert(&app, ann, "k-1", other).await.unwrap();
    assert_eq!(refused.status(), 422);
    // One checkout asked of inventory.
    let requested = "SELECT count(*) FROM outbox WHERE topic = 'order-requested'";
    assert_eq!(app.count(Service::Cart, requested).await, 1);

    app.platform_mut()
        .stop_service(Service::Cart)
        .await
        .unwrap();
    app.platform_mut()
        .start_service(Service::Cart)
        .await
        .unwrap();
    let after = convert(&app, ann, "k-1", pay).await.unwrap();
    assert_eq!(after.status(), 202);
    let after: Value = after.json().await.unwrap();
    assert_eq!(after, replayed, "the stored answer outlives the process");
    app.stop().await;
}

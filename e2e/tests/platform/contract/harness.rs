//! The contract test's checker: who calls, each answer checked against its service's
//! OpenAPI document, lists walked page by page, and what was never produced.

use super::{ADMIN_TOKEN, KIT_NOT_DRIVEN, NOT_DRIVEN};
use cartflow_events::Service;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
pub(super) enum Who {
    Anonymous,
    Customer(Uuid),
    Staff,
    Operator,
}

pub(super) struct Contract {
    http: reqwest::Client,
    urls: BTreeMap<Service, String>,
    pub(super) documents: BTreeMap<Service, Value>,
    /// (service, method, route, status) of every answer checked.
    seen: BTreeSet<(Service, String, String, u16)>,
}

impl Contract {
    pub(super) async fn load(urls: BTreeMap<Service, String>) -> Contract {
        let http = reqwest::Client::new();
        let mut documents = BTreeMap::new();
        for (service, url) in &urls {
            let text = http
                .get(format!("{url}/openapi.json"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            // Valid OpenAPI 3.1: it reads into the specification's model.
            if let Err(error) = oas3::from_json(&text) {
                panic!("{service}: /openapi.json is not a valid OpenAPI 3.1 document: {error}");
            }
            let document: Value = serde_json::from_str(&text).unwrap();
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
    pub(super) async fn call(
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
    pub(super) async fn expect(
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
    pub(super) async fn walk_pages(&mut self, who: Who, service: Service, path: &str) {
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
    pub(super) fn assert_covered(&self) {
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
pub(super) fn validate(document: &Value, pointer: &str, body: &Value) -> Result<(), String> {
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

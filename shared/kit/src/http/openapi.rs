//! The service's OpenAPI 3.1 description, served at `GET /openapi.json`.
//!
//! A service registers each route with its description in one call (utoipa-axum's
//! `routes!`, from the handler's `#[utoipa::path]`), so no route exists undescribed.
//! The kit adds what every route shares: the problem+json body, the answers every
//! route can give (a malformed request, sign-in, the rate limit, an internal error),
//! the security schemes, and the service's name and version.

use super::error::{FieldError, Problem};
use axum::Json;
use axum::extract::State;
use cartflow_events::Service;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;

/// The path the description is served at.
pub const PATH: &str = "/openapi.json";

/// Where the route tags and operation ids come from: the service's routes.
pub type ApiRouter = utoipa_axum::router::OpenApiRouter;

/// The security schemes a route's `security(...)` names.
pub const BEARER: &str = "bearer";
pub const CUSTOMER_HEADER: &str = "customer_header";
pub const STAFF_HEADER: &str = "staff_header";
/// The operator's `/admin` routes.
pub const ADMIN_TOKEN: &str = "admin_token";
/// Pub/Sub's push requests.
pub const PUBSUB_TOKEN: &str = "pubsub_token";

/// Answers every route can give besides its own, by status: what the kit's
/// extractors, sign-in, rate limits and error handling produce.
const SHARED_ANSWERS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "The request is malformed: a path or query parameter of the wrong type, an unknown query parameter, or a body that is not JSON.",
    ),
    (
        "401",
        "Unauthorized",
        "No valid sign-in: a missing, expired or forged ID token (answered with `WWW-Authenticate: Bearer`).",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is over the service's limit (`BODY_LIMIT_BYTES`).",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not `application/json`.",
    ),
    (
        "422",
        "ValidationFailed",
        "The body or a parameter failed a check; `errors` lists which and why.",
    ),
    (
        "429",
        "RateLimited",
        "Over the rate limit for this caller; `Retry-After` says when to try again.",
    ),
    (
        "500",
        "Internal",
        "Unexpected; logged under the problem's `instance` and never detailed to the caller.",
    ),
];

/// Finishes a service's description: `api` holds its routes; this adds the rest.
pub fn finish(service: Service, api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).expect("an OpenAPI document serialises");
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": format!("cartflow {service} service"),
        "version": env!("CARGO_PKG_VERSION"),
        "description": format!(
            "The {service} service's HTTP API. Errors are RFC 9457 problem details \
             (`application/problem+json`) whose `instance` names the request (its \
             `x-request-id`). Lists answer `{{items, next_page_token}}`; POST routes that \
             create or change something honour `Idempotency-Key`."
        ),
        "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
    });
    let components = doc
        .as_object_mut()
        .expect("a document is an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    let schemas = components
        .as_object_mut()
        .expect("components are an object")
        .entry("schemas")
        .or_insert_with(|| json!({}));
    schemas[Problem::name().as_ref()] = json!(<Problem as utoipa::PartialSchema>::schema());
    schemas[FieldError::name().as_ref()] = json!(<FieldError as utoipa::PartialSchema>::schema());
    let mut responses = serde_json::Map::new();
    for (_, name, description) in SHARED_ANSWERS {
        let mut answer = problem_answer(description);
        if *name == "RateLimited" {
            answer["headers"] = json!({ "Retry-After": retry_after() });
        }
        responses.insert(name.to_string(), answer);
    }
    responses.insert(
        "InFlight".into(),
        problem_answer("A request with this Idempotency-Key is still in flight."),
    );
    components["responses"] = Value::Object(responses);
    components["securitySchemes"] = json!({
        BEARER: {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "An ID token from the configured issuer (`AUTH_ISSUER`): a customer's, or staff's with the staff claim.",
        },
        CUSTOMER_HEADER: {
            "type": "apiKey", "in": "header", "name": crate::auth::CUSTOMER_HEADER,
            "description": "Emulator only: acts as this customer id. Refused unless the service runs against the Pub/Sub emulator (`AUTH_MODE=header`).",
        },
        STAFF_HEADER: {
            "type": "apiKey", "in": "header", "name": crate::auth::ROLE_HEADER,
            "description": "Emulator only: `staff` acts as staff. Refused unless the service runs against the Pub/Sub emulator (`AUTH_MODE=header`).",
        },
        ADMIN_TOKEN: {
            "type": "http", "scheme": "bearer",
            "description": "The service's `ADMIN_TOKEN`, for the operator's `/admin` routes (off without it).",
        },
        PUBSUB_TOKEN: {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "The OIDC token Pub/Sub signs for the push subscription's service account (`PUSH_SERVICE_ACCOUNT`); none with the emulator.",
        },
    });
    add_shared_answers(&mut doc);
    doc
}

/// Every POST takes an `Idempotency-Key` (see [`super::idempotency`]).
fn add_idempotency_key(op: &mut serde_json::Map<String, Value>) {
    let parameters = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("parameters are a list");
    parameters.push(json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes a retry safe: the same key and request again answer what the first call answered (with `Idempotent-Replayed: true`) for 24 hours; the same key with another request is a 422, and while the first is in flight a 409. Answers of 5xx and 429 are not kept.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
    }));
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses are an object");
    responses
        .entry("409")
        .or_insert_with(|| json!({ "$ref": "#/components/responses/InFlight" }));
}

fn problem_answer(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": {
            "schema": { "$ref": "#/components/schemas/Problem" }
        }},
    })
}

fn retry_after() -> Value {
    json!({ "description": "Seconds to wait.", "schema": { "type": "integer", "minimum": 0 } })
}

/// Adds to each operation the shared answers that apply to it and that it does not
/// describe itself: 400 where it takes parameters or a body, 401 and 429 where it
/// needs sign-in, 413/415 where it takes a body, 422 where it takes either, 500
/// everywhere.
fn add_shared_answers(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let Some(op) = operation.as_object_mut() else {
                continue;
            };
            let has_body = op.contains_key("requestBody");
            let has_params = path.contains('{') || op.contains_key("parameters");
            let has_body = has_body || method == "post";
            if method == "post" {
                add_idempotency_key(op);
            }
            // Sign-in and its rate limits guard the service's own routes; the operator's
            // token and Pub/Sub's refuse with 401 but are not rate limited.
            let schemes: Vec<&str> = op
                .get("security")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|requirement| requirement.keys().map(String::as_str))
                .collect();
            let signed_in = schemes
                .iter()
                .any(|s| [BEARER, CUSTOMER_HEADER, STAFF_HEADER].contains(s));
            let token = schemes
                .iter()
                .any(|s| [ADMIN_TOKEN, PUBSUB_TOKEN].contains(s));
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("responses are an object");
            for (status, name, _) in SHARED_ANSWERS {
                let applies = match *status {
                    "400" => has_params || has_body,
                    "401" => signed_in || token,
                    "429" => signed_in,
                    "413" | "415" => has_body,
                    "422" => has_body || has_params,
                    _ => true,
                };
                if applies && !responses.contains_key(*status) {
                    responses.insert(
                        status.to_string(),
                        json!({ "$ref": format!("#/components/responses/{name}") }),
                    );
                }
            }
        }
    }
}

/// `GET /openapi.json`, described in the document it serves: give the finished
/// document to the router's `with_state`.
pub fn router() -> utoipa_axum::router::OpenApiRouter<Arc<Value>> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(document))
}

/// This service's OpenAPI 3.1 description (public like the probes).
#[utoipa::path(get, path = "/openapi.json", tag = "probes",
    responses((status = 200, description = "This document", body = Object)))]
async fn document(State(document): State<Arc<Value>>) -> Json<Value> {
    Json(document.as_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_gets_the_shared_answers_that_apply() {
        let mut api = utoipa::openapi::OpenApi::default();
        api.paths = serde_json::from_value(json!({
            "/things/{id}": {
                "get": {
                    "security": [{ "bearer": [] }],
                    "responses": { "200": { "description": "A thing" },
                                   "404": { "description": "No such thing" } }
                },
                "put": { "requestBody": { "content": {} },
                         "responses": { "200": { "description": "Changed" } } }
            },
            "/open": { "get": { "responses": { "200": { "description": "Open" } } } }
        }))
        .unwrap();
        let doc = finish(Service::Order, api);
        let statuses = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(
            statuses("/things/{id}", "get"),
            ["200", "400", "401", "404", "422", "429", "500"]
        );
        assert_eq!(
            statuses("/things/{id}", "put"),
            ["200", "400", "413", "415", "422", "500"]
        );
        assert_eq!(statuses("/open", "get"), ["200", "500"]);
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        assert_eq!(
            doc["components"]["responses"]["RateLimited"]["headers"]["Retry-After"]["schema"]["type"],
            "integer"
        );
    }
}

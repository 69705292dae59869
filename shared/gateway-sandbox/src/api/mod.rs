//! The `/v1` routes: Stripe's PaymentIntents subset. Each parameter the sandbox accepts
//! is one Stripe's description names for that route (a unit test holds them to
//! `stripe/subset.json`); any other is refused as Stripe refuses an unknown one.

mod create;
mod intents;
mod refunds;

use create::create_intent;
use intents::{intent_action, list_intents, retrieve_intent};
use refunds::{create_refund, list_refunds};

use crate::objects::{self, Answer, StripeError};
use crate::params::Params;
use crate::state::Shared;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use serde_json::Value;
use std::sync::Arc;

pub(crate) const CREATE_INTENT_PARAMS: &[&str] = &[
    "amount",
    "currency",
    "payment_method",
    "capture_method",
    "confirm",
    "payment_method_types",
    "metadata",
    "description",
    "expand",
];
pub(crate) const RETRIEVE_INTENT_PARAMS: &[&str] = &["expand"];
pub(crate) const CAPTURE_PARAMS: &[&str] = &["amount_to_capture", "expand"];
pub(crate) const CANCEL_PARAMS: &[&str] = &["cancellation_reason", "expand"];
pub(crate) const CREATE_REFUND_PARAMS: &[&str] =
    &["payment_intent", "amount", "reason", "metadata", "expand"];
pub(crate) const LIST_INTENTS_PARAMS: &[&str] = &["limit", "starting_after", "expand"];
pub(crate) const LIST_REFUNDS_PARAMS: &[&str] =
    &["limit", "starting_after", "payment_intent", "expand"];

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/payment_intents", get(list_intents).post(create_intent))
        .route("/v1/payment_intents/{id}", get(retrieve_intent))
        .route("/v1/payment_intents/{id}/{action}", post(intent_action))
        .route("/v1/refunds", get(list_refunds).post(create_refund))
        .route("/v1/{*rest}", any(unrecognized))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Before any `/v1` route: the outage switch, then the secret key.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.lock().down {
        return StripeError::api_error(
            503,
            "The gateway sandbox is down (POST /sandbox/outage {\"down\": false} brings it back)."
                .into(),
        )
        .0
        .respond(None, false);
    }
    let prefix = &shared.settings.api_key_prefix;
    let key = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match key {
        Some(key) if key.starts_with(prefix.as_str()) && key.len() > prefix.len() => {
            next.run(request).await
        }
        Some(key) => StripeError::invalid_request(
            401,
            None,
            format!("Invalid API Key provided: {}", redacted(key)),
            None,
        )
        .0
        .respond(None, false),
        None => StripeError::invalid_request(
            401,
            None,
            "You did not provide an API key. You need to provide your API key in the \
             Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
             YOUR_SECRET_KEY')."
                .into(),
            None,
        )
        .0
        .respond(None, false),
    }
}

/// `sk_test_****abcd`, as Stripe shows a key it refused.
fn redacted(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "****".into();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

pub(super) async fn unrecognized(method: Method, uri: Uri) -> Response {
    StripeError::invalid_request(
        404,
        None,
        format!(
            "Unrecognized request URL ({method}: {}). The gateway sandbox serves only the \
             PaymentIntents and Refunds routes cartflow uses.",
            uri.path()
        ),
        None,
    )
    .0
    .respond(None, false)
}

pub(super) fn query(uri: &Uri) -> Params {
    Params::parse(uri.query().unwrap_or_default().as_bytes())
}

/// One page of a Stripe list, newest first: `limit` (1 to 100, default 10) objects after
/// `starting_after`.
pub(super) fn page<'a, F: Fn() -> Value>(
    params: &Params,
    url: &str,
    kind: &str,
    newest_first: impl Iterator<Item = (&'a str, F)>,
) -> Result<Answer, StripeError> {
    let limit = match params.get("limit") {
        None => 10,
        Some(raw) => match raw.parse::<usize>() {
            Ok(limit) if (1..=100).contains(&limit) => limit,
            _ => {
                return Err(StripeError::invalid_request(
                    400,
                    None,
                    format!("Invalid limit: must be an integer from 1 to 100 (got '{raw}')"),
                    Some("limit"),
                ));
            }
        },
    };
    let all: Vec<(&str, F)> = newest_first.collect();
    let start = match params.get("starting_after") {
        None => 0,
        Some(after) => match all.iter().position(|(id, _)| *id == after) {
            Some(index) => index + 1,
            None => {
                return Err(StripeError::invalid_request(
                    400,
                    Some("resource_missing"),
                    format!("No such {kind}: '{after}'"),
                    Some("starting_after"),
                ));
            }
        },
    };
    let rest = &all[start.min(all.len())..];
    let data = rest.iter().take(limit).map(|(_, json)| json()).collect();
    Ok(Answer::ok(objects::list_json(
        url,
        data,
        rest.len() > limit,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parameter the sandbox accepts is one Stripe's description names for the
    /// route (so a client written against the sandbox works against Stripe).
    #[test]
    fn accepted_parameters_are_stripes() {
        let subset: Value =
            serde_json::from_str(include_str!("../../stripe/subset.json")).expect("subset.json");
        let cases: [(&str, &str, &str, &[&str]); 7] = [
            (
                "/v1/payment_intents",
                "post",
                "x-form-parameters",
                CREATE_INTENT_PARAMS,
            ),
            (
                "/v1/payment_intents",
                "get",
                "x-query-parameters",
                LIST_INTENTS_PARAMS,
            ),
            (
                "/v1/payment_intents/{intent}",
                "get",
                "x-query-parameters",
                RETRIEVE_INTENT_PARAMS,
            ),
            (
                "/v1/payment_intents/{intent}/capture",
                "post",
                "x-form-parameters",
                CAPTURE_PARAMS,
            ),
            (
                "/v1/payment_intents/{intent}/cancel",
                "post",
                "x-form-parameters",
                CANCEL_PARAMS,
            ),
            (
                "/v1/refunds",
                "post",
                "x-form-parameters",
                CREATE_REFUND_PARAMS,
            ),
            (
                "/v1/refunds",
                "get",
                "x-query-parameters",
                LIST_REFUNDS_PARAMS,
            ),
        ];
        for (route, method, list, accepted) in cases {
            let names = subset["paths"][route][method][list]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {route}: no {list} in subset.json"));
            for name in accepted {
                assert!(
                    names.iter().any(|n| n == name),
                    "{method} {route}: Stripe has no parameter {name}"
                );
            }
        }
    }

    #[test]
    fn a_refused_key_is_shown_redacted() {
        assert_eq!(redacted("sk_live_abcdefghijkl"), "sk_live_****ijkl");
        assert_eq!(redacted("short"), "****");
    }
}

//! The `/v1` routes: Stripe's PaymentIntents subset. Each parameter the sandbox accepts
//! is one Stripe's description names for that route (a unit test holds them to
//! `stripe/subset.json`); any other is refused as Stripe refuses an unknown one.

use crate::idempotency::{self, Outcome};
use crate::ledger::IntentStatus;
use crate::objects::{self, Answer, StripeError};
use crate::params::Params;
use crate::state::{self, Behaviour, Intent, Refund, Shared, TestCard};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

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

async fn unrecognized(method: Method, uri: Uri) -> Response {
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

fn query(uri: &Uri) -> Params {
    Params::parse(uri.query().unwrap_or_default().as_bytes())
}

// --- PaymentIntents -------------------------------------------------------------

async fn create_intent(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    idempotency::run(shared, &headers, "/v1/payment_intents", params, create).await
}

struct CreateRequest {
    amount: i64,
    currency: String,
    card: &'static TestCard,
    capture_method: String,
    metadata: std::collections::BTreeMap<String, String>,
    description: Option<String>,
    expand: bool,
}

fn create_request(params: &Params) -> Result<CreateRequest, StripeError> {
    params.only(CREATE_INTENT_PARAMS)?;
    params.required("amount")?;
    let amount = params.amount("amount")?.unwrap_or_default();
    let currency = params.required("currency")?.to_ascii_lowercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(StripeError::invalid_request(
            400,
            None,
            format!("Invalid currency: {currency}. Expected a three-letter ISO code."),
            Some("currency"),
        ));
    }
    let capture_method = params
        .one_of(
            "capture_method",
            &["automatic", "automatic_async", "manual"],
        )?
        .unwrap_or_else(|| "automatic_async".into());
    if params.one_of("confirm", &["true", "false"])?.as_deref() != Some("true") {
        return Err(StripeError::invalid_request(
            400,
            None,
            "The gateway sandbox only creates confirmed PaymentIntents: send confirm=true.".into(),
            Some("confirm"),
        ));
    }
    // The sandbox's tokens are cards: another payment method type is one it lacks.
    if let Some(other) = params
        .list("payment_method_types")
        .into_iter()
        .find(|t| *t != "card")
    {
        return Err(StripeError::invalid_request(
            400,
            Some("payment_method_type_unsupported"),
            format!("The gateway sandbox supports only card payment methods, not {other}."),
            Some("payment_method_types"),
        ));
    }
    let token = params.required("payment_method")?;
    let card = state::test_card(token).ok_or_else(|| {
        StripeError::invalid_request(
            400,
            Some("resource_missing"),
            format!("No such PaymentMethod: {}", shown_token(token)),
            Some("payment_method"),
        )
    })?;
    let description = params.get("description").map(String::from);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        return Err(StripeError::invalid_request(
            400,
            Some("parameter_invalid_string_too_long"),
            "Invalid description: at most 1000 characters".into(),
            Some("description"),
        ));
    }
    Ok(CreateRequest {
        amount,
        currency,
        card,
        capture_method,
        metadata: params.metadata()?,
        description,
        expand: params.expands(Some("latest_charge"))?,
    })
}

/// An unknown token, quoted as Stripe quotes it, unless it is not shaped like a token:
/// something else (a card number sent by mistake) is never echoed.
fn shown_token(token: &str) -> String {
    let token_shaped = token.starts_with("pm_")
        && token.len() <= 100
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && token.chars().filter(char::is_ascii_digit).count() < 8;
    if token_shaped {
        format!("'{token}'")
    } else {
        "(the value is not a payment method token, and is not shown)".into()
    }
}

async fn create(shared: Arc<Shared>, params: Params, key: Option<String>) -> Outcome {
    let request = match create_request(&params) {
        Ok(request) => request,
        Err(error) => return error.into(),
    };
    let card = request.card;
    if card.behaviour == Behaviour::Flaky {
        let first = match &key {
            None => true,
            Some(key) => shared.lock().flaky_failed.insert(key.clone()),
        };
        if first {
            tracing::info!(payment_method = card.token, "gateway sandbox: injected 500");
            return StripeError::api_error(
                500,
                "An unknown error occurred while processing this request (the sandbox's \
                 pm_card_flaky fails the first request for each idempotency key)."
                    .into(),
            )
            .into();
        }
    }
    let decline = match card.behaviour {
        Behaviour::Decline {
            decline_code,
            message,
        } => Some(state::Decline {
            decline_code,
            message,
        }),
        _ => None,
    };
    let manual = request.capture_method == "manual";
    let (status, capturable, received) = match (&decline, manual) {
        (Some(_), _) => (IntentStatus::RequiresPaymentMethod, 0, 0),
        (None, true) => (IntentStatus::RequiresCapture, request.amount, 0),
        (None, false) => (IntentStatus::Succeeded, 0, request.amount),
    };
    let id = state::new_id("pi");
    let intent = Intent {
        charge_id: state::new_id("ch"),
        client_secret: format!("{id}_secret_{}", state::new_id("s")),
        id,
        created: state::now(),
        amount: request.amount,
        currency: request.currency,
        capture_method: request.capture_method,
        status,
        amount_capturable: capturable,
        amount_received: received,
        amount_refunded: 0,
        metadata: request.metadata,
        description: request.description,
        card,
        decline,
        canceled_at: None,
        cancellation_reason: None,
        idempotency_key: key,
    };
    {
        let mut inner = shared.lock();
        match (&intent.decline, manual) {
            (Some(_), _) => inner.counts.declines += 1,
            (None, true) => inner.counts.authorizations += 1,
            (None, false) => {
                inner.counts.authorizations += 1;
                inner.counts.captures += 1;
            }
        }
        inner.intents.push(intent.clone());
    }
    tracing::info!(
        intent = %intent.id,
        amount = intent.amount,
        currency = %intent.currency,
        payment_method = card.token,
        status = intent.status.as_str(),
        "gateway sandbox: payment intent created"
    );
    if card.behaviour == Behaviour::Slow {
        tokio::time::sleep(Duration::from_millis(shared.settings.slow_ms)).await;
    }
    Outcome::Executed(match intent.decline {
        Some(_) => StripeError::declined(&intent).0,
        None => Answer::ok(objects::intent_json(&intent, request.expand)),
    })
}

async fn retrieve_intent(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let params = query(&uri);
    let answer = params
        .only(RETRIEVE_INTENT_PARAMS)
        .and_then(|()| params.expands(Some("latest_charge")))
        .and_then(|expand| {
            let inner = shared.lock();
            let intent = inner.intents.iter().find(|i| i.id == id);
            intent
                .map(|i| Answer::ok(objects::intent_json(i, expand)))
                .ok_or_else(|| StripeError::missing("payment_intent", &id, "intent"))
        });
    answer.unwrap_or_else(|e| e.0).respond(None, false)
}

/// `POST /v1/payment_intents/{id}/capture` and `.../cancel`.
async fn intent_action(
    State(shared): State<Arc<Shared>>,
    Path((id, action)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation: fn(&Shared, &str, &Params) -> Outcome = match action.as_str() {
        "capture" => capture,
        "cancel" => cancel,
        _ => return unrecognized(Method::POST, uri).await,
    };
    let path = format!("/v1/payment_intents/{id}/{action}");
    let params = Params::parse(&body);
    idempotency::run(shared, &headers, &path, params, move |shared, params, _| {
        std::future::ready(operation(&shared, &id, &params))
    })
    .await
}

fn capture(shared: &Shared, id: &str, params: &Params) -> Outcome {
    let checked = params
        .only(CAPTURE_PARAMS)
        .and_then(|()| params.expands(Some("latest_charge")))
        .and_then(|expand| Ok((expand, params.amount("amount_to_capture")?)));
    let (expand, amount_to_capture) = match checked {
        Ok(checked) => checked,
        Err(error) => return error.into(),
    };
    let mut inner = shared.lock();
    let Some(intent) = inner.intent_mut(id) else {
        return StripeError::missing("payment_intent", id, "intent").into();
    };
    if intent.status != IntentStatus::RequiresCapture {
        return Outcome::Executed(
            StripeError::unexpected_state(
                intent,
                format!(
                    "This PaymentIntent could not be captured because it has a status of {}. \
                     Only a PaymentIntent with one of the following statuses may be captured: \
                     requires_capture.",
                    intent.status.as_str()
                ),
            )
            .0,
        );
    }
    let amount = amount_to_capture.unwrap_or(intent.amount_capturable);
    if amount > intent.amount_capturable {
        return Outcome::Executed(
            StripeError::invalid_request(
                400,
                Some("amount_too_large"),
                format!(
                    "The amount to capture ({amount}) is greater than the amount capturable \
                     ({}).",
                    intent.amount_capturable
                ),
                Some("amount_to_capture"),
            )
            .0,
        );
    }
    // Capturing less releases the rest, as Stripe does.
    intent.amount_received = amount;
    intent.amount_capturable = 0;
    intent.status = IntentStatus::Succeeded;
    let answer = Answer::ok(objects::intent_json(intent, expand));
    tracing::info!(intent = %id, amount, "gateway sandbox: captured");
    inner.counts.captures += 1;
    Outcome::Executed(answer)
}

fn cancel(shared: &Shared, id: &str, params: &Params) -> Outcome {
    let checked = params
        .only(CANCEL_PARAMS)
        .and_then(|()| params.expands(Some("latest_charge")))
        .and_then(|expand| {
            let reason = params.one_of(
                "cancellation_reason",
                &[
                    "duplicate",
                    "fraudulent",
                    "requested_by_customer",
                    "abandoned",
                ],
            )?;
            Ok((expand, reason))
        });
    let (expand, reason) = match checked {
        Ok(checked) => checked,
        Err(error) => return error.into(),
    };
    let mut inner = shared.lock();
    let Some(intent) = inner.intent_mut(id) else {
        return StripeError::missing("payment_intent", id, "intent").into();
    };
    let voids = match intent.status {
        IntentStatus::RequiresCapture => 1,
        IntentStatus::RequiresPaymentMethod => 0,
        IntentStatus::Succeeded | IntentStatus::Canceled => {
            return Outcome::Executed(
                StripeError::unexpected_state(
                    intent,
                    format!(
                        "You cannot cancel this PaymentIntent because it has a status of {}. \
                         Only a PaymentIntent with one of the following statuses may be \
                         canceled: requires_payment_method, requires_capture, \
                         requires_confirmation, requires_action, processing.",
                        intent.status.as_str()
                    ),
                )
                .0,
            );
        }
    };
    intent.status = IntentStatus::Canceled;
    intent.amount_capturable = 0;
    intent.canceled_at = Some(state::now());
    intent.cancellation_reason = reason;
    let answer = Answer::ok(objects::intent_json(intent, expand));
    tracing::info!(intent = %id, "gateway sandbox: canceled");
    inner.counts.voids += voids;
    Outcome::Executed(answer)
}

async fn list_intents(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let params = query(&uri);
    let answer = params
        .only(LIST_INTENTS_PARAMS)
        .and_then(|()| params.expands(Some("data.latest_charge")))
        .and_then(|expand| {
            let inner = shared.lock();
            let newest_first = inner.intents.iter().rev().map(|i| {
                let json = || objects::intent_json(i, expand);
                (i.id.as_str(), json)
            });
            page(
                &params,
                "/v1/payment_intents",
                "payment_intent",
                newest_first,
            )
        });
    answer.unwrap_or_else(|e| e.0).respond(None, false)
}

/// One page of a Stripe list, newest first: `limit` (1 to 100, default 10) objects after
/// `starting_after`.
fn page<'a, F: Fn() -> Value>(
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

// --- Refunds --------------------------------------------------------------------

async fn create_refund(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    idempotency::run(
        shared,
        &headers,
        "/v1/refunds",
        params,
        |shared, params, key| std::future::ready(refund(&shared, &params, key)),
    )
    .await
}

fn refund(shared: &Shared, params: &Params, key: Option<String>) -> Outcome {
    let checked = params
        .only(CREATE_REFUND_PARAMS)
        .and_then(|()| params.expands(None))
        .and_then(|_| {
            let intent_id = params.required("payment_intent")?.to_string();
            let amount = params.amount("amount")?;
            let reason = params.one_of(
                "reason",
                &["duplicate", "fraudulent", "requested_by_customer"],
            )?;
            Ok((intent_id, amount, reason, params.metadata()?))
        });
    let (intent_id, amount, reason, metadata) = match checked {
        Ok(checked) => checked,
        Err(error) => return error.into(),
    };
    let mut inner = shared.lock();
    let Some(intent) = inner.intent_mut(&intent_id) else {
        return StripeError::invalid_request(
            400,
            Some("resource_missing"),
            format!("No such payment_intent: '{intent_id}'"),
            Some("payment_intent"),
        )
        .into();
    };
    if intent.status != IntentStatus::Succeeded {
        return Outcome::Executed(
            StripeError::unexpected_state(
                intent,
                format!(
                    "This PaymentIntent has a status of {}: only a captured (succeeded) \
                     PaymentIntent can be refunded; cancel it to release an authorization.",
                    intent.status.as_str()
                ),
            )
            .0,
        );
    }
    let unrefunded = intent.amount_received - intent.amount_refunded;
    if unrefunded == 0 {
        return Outcome::Executed(
            StripeError::invalid_request(
                400,
                Some("charge_already_refunded"),
                format!("Charge {} has already been refunded.", intent.charge_id),
                None,
            )
            .0,
        );
    }
    let amount = amount.unwrap_or(unrefunded);
    if amount > unrefunded {
        return Outcome::Executed(
            StripeError::invalid_request(
                400,
                Some("amount_too_large"),
                format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge \
                     ({unrefunded})"
                ),
                Some("amount"),
            )
            .0,
        );
    }
    intent.amount_refunded += amount;
    let refund = Refund {
        id: state::new_id("re"),
        created: state::now(),
        payment_intent: intent.id.clone(),
        charge_id: intent.charge_id.clone(),
        amount,
        currency: intent.currency.clone(),
        reason,
        metadata,
        idempotency_key: key,
    };
    let answer = Answer::ok(objects::refund_json(&refund));
    tracing::info!(refund = %refund.id, intent = %intent_id, amount, "gateway sandbox: refunded");
    inner.counts.refunds += 1;
    inner.refunds.push(refund);
    Outcome::Executed(answer)
}

async fn list_refunds(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let params = query(&uri);
    let answer = params
        .only(LIST_REFUNDS_PARAMS)
        .and_then(|()| params.expands(None))
        .and_then(|_| {
            let for_intent = params.get("payment_intent");
            let inner = shared.lock();
            let newest_first = inner
                .refunds
                .iter()
                .rev()
                .filter(|r| for_intent.is_none_or(|pi| r.payment_intent == pi))
                .map(|r| (r.id.as_str(), || objects::refund_json(r)));
            page(&params, "/v1/refunds", "refund", newest_first)
        });
    answer.unwrap_or_else(|e| e.0).respond(None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parameter the sandbox accepts is one Stripe's description names for the
    /// route (so a client written against the sandbox works against Stripe).
    #[test]
    fn accepted_parameters_are_stripes() {
        let subset: Value =
            serde_json::from_str(include_str!("../stripe/subset.json")).expect("subset.json");
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
    fn a_value_not_shaped_like_a_token_is_never_echoed() {
        assert_eq!(shown_token("pm_card_amex"), "'pm_card_amex'");
        let card_shaped = "1234".repeat(4);
        assert!(!shown_token(&card_shaped).contains(&card_shaped));
        assert!(!shown_token(&format!("pm_{card_shaped}")).contains(&card_shaped));
    }

    #[test]
    fn a_refused_key_is_shown_redacted() {
        assert_eq!(redacted("sk_live_abcdefghijkl"), "sk_live_****ijkl");
        assert_eq!(redacted("short"), "****");
    }
}

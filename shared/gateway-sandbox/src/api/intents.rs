//! The routes on an existing PaymentIntent: retrieve, capture, cancel, and the list.

use super::{CANCEL_PARAMS, CAPTURE_PARAMS, LIST_INTENTS_PARAMS, RETRIEVE_INTENT_PARAMS};
use super::{page, query, unrecognized};
use crate::idempotency::{self, Outcome};
use crate::ledger::IntentStatus;
use crate::objects::{self, Answer, StripeError};
use crate::params::Params;
use crate::state::{self, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::sync::Arc;

pub(super) async fn retrieve_intent(
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
pub(super) async fn intent_action(
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

pub(super) async fn list_intents(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
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

//! `/v1/refunds`: create a refund of a captured PaymentIntent, and the list.

use super::{CREATE_REFUND_PARAMS, LIST_REFUNDS_PARAMS, page, query};
use crate::idempotency::{self, Outcome};
use crate::ledger::IntentStatus;
use crate::objects::{self, Answer, StripeError};
use crate::params::Params;
use crate::state::{self, Refund, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use std::sync::Arc;

pub(super) async fn create_refund(
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

pub(super) async fn list_refunds(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
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

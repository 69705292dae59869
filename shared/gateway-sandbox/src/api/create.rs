//! `POST /v1/payment_intents`: the parameters a PaymentIntent is created from, and the
//! sandbox's answer for each test card (approve, decline, slow, flaky).

use super::CREATE_INTENT_PARAMS;
use crate::idempotency::{self, Outcome};
use crate::ledger::IntentStatus;
use crate::objects::{self, Answer, StripeError};
use crate::params::Params;
use crate::state::{self, Behaviour, Intent, Shared, TestCard};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn create_intent(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_not_shaped_like_a_token_is_never_echoed() {
        assert_eq!(shown_token("pm_card_amex"), "'pm_card_amex'");
        let card_shaped = "1234".repeat(4);
        assert!(!shown_token(&card_shaped).contains(&card_shaped));
        assert!(!shown_token(&format!("pm_{card_shaped}")).contains(&card_shaped));
    }
}

//! Stripe's objects and errors as the sandbox renders them: every field Stripe's schema
//! names for a PaymentIntent, a Charge and a Refund, filled or `null` (the tests check
//! them against `stripe/subset.json`).

use crate::ledger::IntentStatus;
use crate::state::{Intent, Refund, TestCard};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An answer to a `/v1` request: stored as it is for an idempotency key's replays.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    pub fn ok(body: Value) -> Self {
        Answer {
            status: StatusCode::OK,
            body,
        }
    }

    /// The response, with Stripe's headers: `Request-Id`, `Idempotency-Key` echoed,
    /// `Idempotent-Replayed: true` on a replay, `Stripe-Should-Retry` on errors.
    pub fn respond(self, idempotency_key: Option<&str>, replayed: bool) -> Response {
        let should_retry = match self.status.as_u16() {
            200..=299 => None,
            409 | 429 | 500.. => Some("true"),
            _ => Some("false"),
        };
        let mut response = (self.status, axum::Json(self.body)).into_response();
        let headers = response.headers_mut();
        if let Ok(id) = HeaderValue::from_str(&crate::state::new_id("req")) {
            headers.insert("request-id", id);
        }
        if let Some(key) = idempotency_key.and_then(|k| HeaderValue::from_str(k).ok()) {
            headers.insert("idempotency-key", key);
        }
        if replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        if let Some(retry) = should_retry {
            headers.insert("stripe-should-retry", HeaderValue::from_static(retry));
        }
        response
    }
}

/// An error in Stripe's shape: `{"error": {"type", "code"?, "message", "param"?, ...}}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StripeError(pub Answer);

impl StripeError {
    fn new(status: u16, error: Value) -> Self {
        StripeError(Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: json!({ "error": error }),
        })
    }

    pub fn invalid_request(
        status: u16,
        code: Option<&str>,
        message: String,
        param: Option<&str>,
    ) -> Self {
        let mut error = json!({ "type": "invalid_request_error", "message": message });
        if let Some(code) = code {
            error["code"] = json!(code);
            error["doc_url"] = json!(doc_url(code));
        }
        if let Some(param) = param {
            error["param"] = json!(param);
        }
        Self::new(status, error)
    }

    /// 404 `resource_missing`, as Stripe names an unknown object.
    pub fn missing(kind: &str, id: &str, param: &str) -> Self {
        Self::invalid_request(
            404,
            Some("resource_missing"),
            format!("No such {kind}: '{id}'"),
            Some(param),
        )
    }

    /// 400 `payment_intent_unexpected_state`, carrying the intent as Stripe does.
    pub fn unexpected_state(intent: &Intent, message: String) -> Self {
        let mut error =
            Self::invalid_request(400, Some("payment_intent_unexpected_state"), message, None);
        error.0.body["error"]["payment_intent"] = intent_json(intent, false);
        error
    }

    pub fn api_error(status: u16, message: String) -> Self {
        Self::new(status, json!({ "type": "api_error", "message": message }))
    }

    pub fn idempotency(message: String) -> Self {
        Self::new(
            400,
            json!({ "type": "idempotency_error", "message": message }),
        )
    }

    /// 402 `card_error`: the declined intent travels in the error, as Stripe sends it.
    pub fn declined(intent: &Intent) -> Self {
        let decline = intent.decline.as_ref();
        Self::new(
            402,
            json!({
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline.map(|d| d.decline_code),
                "message": decline.map(|d| d.message),
                "doc_url": doc_url("card_declined"),
                "charge": intent.charge_id,
                "payment_intent": intent_json(intent, false),
            }),
        )
    }
}

fn doc_url(code: &str) -> String {
    format!(
        "https://stripe.com/docs/error-codes/{}",
        code.replace('_', "-")
    )
}

fn last_payment_error(intent: &Intent) -> Value {
    match &intent.decline {
        None => Value::Null,
        Some(d) => json!({
            "type": "card_error",
            "code": "card_declined",
            "decline_code": d.decline_code,
            "message": d.message,
            "doc_url": doc_url("card_declined"),
            "charge": intent.charge_id,
        }),
    }
}

/// A PaymentIntent; `latest_charge` is the charge object when expanded, else its id.
pub(crate) fn intent_json(intent: &Intent, expand_charge: bool) -> Value {
    let latest_charge = if expand_charge {
        charge_json(intent)
    } else {
        json!(intent.charge_id)
    };
    let declined = intent.decline.is_some();
    json!({
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_capturable": intent.amount_capturable,
        "amount_details": { "tip": {} },
        "amount_received": intent.amount_received,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": intent.canceled_at,
        "cancellation_reason": intent.cancellation_reason,
        "capture_method": intent.capture_method,
        "client_secret": intent.client_secret,
        "confirmation_method": "automatic",
        "created": intent.created,
        "currency": intent.currency,
        "customer": null,
        "description": intent.description,
        "invoice": null,
        "last_payment_error": last_payment_error(intent),
        "latest_charge": latest_charge,
        "livemode": false,
        "metadata": intent.metadata,
        "next_action": null,
        "on_behalf_of": null,
        // Stripe detaches a declined payment method from the intent.
        "payment_method": if declined { Value::Null } else { json!(intent.card.token) },
        "payment_method_configuration_details": null,
        "payment_method_options": {
            "card": {
                "installments": null,
                "mandate_options": null,
                "network": null,
                "request_three_d_secure": "automatic"
            }
        },
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": intent.status.as_str(),
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// The intent's one charge: an authorization, captured or not, or a failed one.
pub(crate) fn charge_json(intent: &Intent) -> Value {
    let card = intent.card;
    let captured = intent.status == IntentStatus::Succeeded;
    let voided = intent.status == IntentStatus::Canceled && intent.decline.is_none();
    // Voiding an authorization refunds the uncaptured charge in full, as Stripe shows it.
    let (amount_refunded, refunded) = if voided {
        (intent.amount, true)
    } else {
        let refunded =
            intent.amount_received > 0 && intent.amount_refunded >= intent.amount_received;
        (intent.amount_refunded, refunded)
    };
    let (status, outcome) = match &intent.decline {
        None => (
            "succeeded",
            json!({
                "network_status": "approved_by_network",
                "reason": null,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": "Payment complete.",
                "type": "authorized",
            }),
        ),
        Some(d) => (
            "failed",
            json!({
                "network_status": "declined_by_network",
                "reason": d.decline_code,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            }),
        ),
    };
    let transaction = captured.then(|| intent.charge_id.replacen("ch_", "txn_", 1));
    json!({
        "id": intent.charge_id,
        "object": "charge",
        "amount": intent.amount,
        "amount_captured": intent.amount_received,
        "amount_refunded": amount_refunded,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": transaction,
        "billing_details": billing_details(),
        "calculated_statement_descriptor": "CARTFLOW",
        "captured": captured,
        "created": intent.created,
        "currency": intent.currency,
        "customer": null,
        "description": intent.description,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": intent.decline.as_ref().map(|_| "card_declined"),
        "failure_message": intent.decline.as_ref().map(|d| d.message),
        "fraud_details": {},
        "invoice": null,
        "livemode": false,
        "metadata": intent.metadata,
        "on_behalf_of": null,
        "outcome": outcome,
        "paid": intent.decline.is_none(),
        "payment_intent": intent.id,
        "payment_method": card.token,
        "payment_method_details": card_details(card),
        "receipt_email": null,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": refunded,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": status,
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// Only the brand and the last four digits: the provider never tells more.
fn card_details(card: &TestCard) -> Value {
    json!({
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": null,
                "address_postal_code_check": null,
                "cvc_check": "pass"
            },
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": format!("sbx{}{}", card.brand, card.last4),
            "funding": "credit",
            "installments": null,
            "last4": card.last4,
            "mandate": null,
            "network": card.brand,
            "network_token": { "used": false },
            "three_d_secure": null,
            "wallet": null
        },
        "type": "card"
    })
}

fn billing_details() -> Value {
    json!({
        "address": {
            "city": null, "country": null, "line1": null,
            "line2": null, "postal_code": null, "state": null
        },
        "email": null,
        "name": null,
        "phone": null
    })
}

pub(crate) fn refund_json(refund: &Refund) -> Value {
    json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "balance_transaction": refund.id.replacen("re_", "txn_", 1),
        "charge": refund.charge_id,
        "created": refund.created,
        "currency": refund.currency,
        "metadata": refund.metadata,
        "payment_intent": refund.payment_intent,
        "reason": refund.reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    })
}

/// Stripe's list shape.
pub(crate) fn list_json(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

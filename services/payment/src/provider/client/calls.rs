//! The typed calls (authorize, capture, cancel, refund, retrieve, the lists): what each
//! sends and how its answer is read, with the checks made before anything is sent.

use super::{Call, Provider};
use crate::provider::types::{
    Authorization, Authorize, HasId, Intent, IntentStatus, ProviderError, Refund, WireIntent,
    WireList, WireRefund,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tracing::Span;

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A payment method token (`pm_...`): letters, digits and `_`, and no long run of
/// digits. Anything else (a card number pasted by mistake) is never sent nor shown.
fn token_shaped(value: &str) -> bool {
    let mut run = 0;
    value.starts_with("pm_")
        && value.len() <= 255
        && value.chars().all(|c| {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            (c.is_ascii_alphanumeric() || c == '_') && run < 12
        })
}

/// An object id that is safe in a URL path (`pi_...`).
fn id_shaped(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn invalid(code: &str, message: String) -> ProviderError {
    ProviderError::Rejected {
        status: 400,
        code: Some(code.into()),
        message,
    }
}

impl Provider {
    /// Creates and confirms a PaymentIntent with manual capture: the amount is held, or
    /// the card is declined (a decline is an answer, not an error).
    pub async fn authorize(&self, request: &Authorize) -> Result<Authorization, ProviderError> {
        let call = Call::Authorize;
        let span = call.span();
        span.record("idempotency_key", request.idempotency_key.as_str());
        self.observe(call, span, async {
            if !token_shaped(&request.payment_method) {
                return Err(invalid(
                    "invalid_payment_method",
                    "the payment method is not a provider token (pm_...); it was not sent \
                     and is not shown"
                        .into(),
                ));
            }
            let amount = request.amount_cents.to_string();
            let currency = request.currency.to_ascii_lowercase();
            let description = format!("cartflow checkout {}", request.checkout_id);
            let body = form(&[
                ("amount", &amount),
                ("currency", &currency),
                ("payment_method", &request.payment_method),
                ("capture_method", "manual"),
                ("confirm", "true"),
                // Cards only: from API 2023-08-16 Stripe turns automatic payment methods
                // on by default, and confirming one of those without a return_url is
                // refused (400).
                ("payment_method_types[]", "card"),
                ("metadata[checkout_id]", &request.checkout_id),
                ("description", &description),
                ("expand[]", "latest_charge"),
            ]);
            let answer = self
                .send(
                    call,
                    Method::POST,
                    "/v1/payment_intents",
                    Some(body),
                    Some(&request.idempotency_key),
                )
                .await?;
            match answer.status {
                StatusCode::OK => {
                    let intent: Intent = answer.json::<WireIntent>()?.into();
                    Span::current().record("intent", intent.id.as_str());
                    Ok(approved_or_not(intent))
                }
                StatusCode::PAYMENT_REQUIRED => {
                    let error = answer.error();
                    let intent_id = error.payment_intent.map(|i| i.id);
                    if let Some(id) = &intent_id {
                        Span::current().record("intent", id.as_str());
                    }
                    Ok(Authorization::Declined {
                        intent_id,
                        code: error.code.unwrap_or_else(|| "card_declined".into()),
                        decline_code: error.decline_code,
                        message: error
                            .message
                            .unwrap_or_else(|| "The card was declined.".into()),
                    })
                }
                _ => Err(answer.rejected()),
            }
        })
        .await
    }

    /// Captures what an authorization holds.
    pub async fn capture(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> Result<Intent, ProviderError> {
        self.intent_action(Call::Capture, intent_id, "capture", idempotency_key)
            .await
    }

    /// Cancels an intent: voids an authorization (releases the held amount).
    pub async fn cancel(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> Result<Intent, ProviderError> {
        self.intent_action(Call::Cancel, intent_id, "cancel", idempotency_key)
            .await
    }

    async fn intent_action(
        &self,
        call: Call,
        intent_id: &str,
        action: &str,
        idempotency_key: &str,
    ) -> Result<Intent, ProviderError> {
        let span = call.span();
        span.record("idempotency_key", idempotency_key);
        span.record("intent", intent_id);
        self.observe(call, span, async {
            if !id_shaped(intent_id) {
                return Err(invalid(
                    "invalid_id",
                    format!("not an intent id: {intent_id:?}"),
                ));
            }
            let path = format!("/v1/payment_intents/{intent_id}/{action}");
            let body = form(&[("expand[]", "latest_charge")]);
            let answer = self
                .send(call, Method::POST, &path, Some(body), Some(idempotency_key))
                .await?;
            match answer.status {
                StatusCode::OK => Ok(answer.json::<WireIntent>()?.into()),
                _ => Err(answer.rejected()),
            }
        })
        .await
    }

    /// Refunds `amount_cents` of what a (captured) intent received.
    pub async fn refund(
        &self,
        intent_id: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> Result<Refund, ProviderError> {
        let call = Call::Refund;
        let span = call.span();
        span.record("idempotency_key", idempotency_key);
        span.record("intent", intent_id);
        self.observe(call, span, async {
            let amount = amount_cents.to_string();
            let body = form(&[("payment_intent", intent_id), ("amount", &amount)]);
            let answer = self
                .send(
                    call,
                    Method::POST,
                    "/v1/refunds",
                    Some(body),
                    Some(idempotency_key),
                )
                .await?;
            match answer.status {
                StatusCode::OK => Ok(answer.json::<WireRefund>()?.into()),
                _ => Err(answer.rejected()),
            }
        })
        .await
    }

    /// The intent as the provider has it now, with its card.
    pub async fn retrieve(&self, intent_id: &str) -> Result<Intent, ProviderError> {
        let call = Call::Retrieve;
        let span = call.span();
        span.record("intent", intent_id);
        self.observe(call, span, async {
            if !id_shaped(intent_id) {
                return Err(invalid(
                    "invalid_id",
                    format!("not an intent id: {intent_id:?}"),
                ));
            }
            let path = format!("/v1/payment_intents/{intent_id}?expand[]=latest_charge");
            let answer = self.send(call, Method::GET, &path, None, None).await?;
            match answer.status {
                StatusCode::OK => Ok(answer.json::<WireIntent>()?.into()),
                _ => Err(answer.rejected()),
            }
        })
        .await
    }

    /// Every intent the provider holds for this key, newest first (page after page).
    pub async fn list_intents(&self) -> Result<Vec<Intent>, ProviderError> {
        let call = Call::ListIntents;
        self.observe(call, call.span(), async {
            let all: Vec<WireIntent> = self.list(call, "/v1/payment_intents").await?;
            Ok(all.into_iter().map(Intent::from).collect())
        })
        .await
    }

    /// Every refund, newest first (page after page).
    pub async fn list_refunds(&self) -> Result<Vec<Refund>, ProviderError> {
        let call = Call::ListRefunds;
        self.observe(call, call.span(), async {
            let all: Vec<WireRefund> = self.list(call, "/v1/refunds").await?;
            Ok(all.into_iter().map(Refund::from).collect())
        })
        .await
    }

    /// Follows `has_more` with `starting_after` to the end of a list.
    async fn list<T: DeserializeOwned + HasId>(
        &self,
        call: Call,
        path: &str,
    ) -> Result<Vec<T>, ProviderError> {
        let mut all: Vec<T> = Vec::new();
        loop {
            let mut page_path = format!("{path}?limit={}", self.inner.page_size);
            if let Some(last) = all.last() {
                page_path.push_str(&format!("&starting_after={}", last.id()));
            }
            let answer = self.send(call, Method::GET, &page_path, None, None).await?;
            if answer.status != StatusCode::OK {
                return Err(answer.rejected());
            }
            let page: WireList<T> = answer.json()?;
            let empty = page.data.is_empty();
            all.extend(page.data);
            if !page.has_more {
                return Ok(all);
            }
            if empty {
                return Err(ProviderError::Rejected {
                    status: 200,
                    code: Some("invalid_response".into()),
                    message: format!("{path}: an empty page that says it has more"),
                });
            }
        }
    }
}

/// A created intent that holds the amount is approved; any other state (e.g. the card
/// asks for 3-D Secure, which cartflow does not do) holds nothing and is a decline.
fn approved_or_not(intent: Intent) -> Authorization {
    match intent.status {
        IntentStatus::RequiresCapture | IntentStatus::Succeeded => {
            let card = intent.card.unwrap_or(crate::provider::Card {
                brand: None,
                last4: None,
            });
            Authorization::Approved {
                amount_cents: intent.amount_cents,
                intent_id: intent.id,
                brand: card.brand,
                last4: card.last4,
            }
        }
        other => Authorization::Declined {
            intent_id: Some(intent.id),
            code: "authentication_required".into(),
            decline_code: None,
            message: format!("the payment was not authorized (status {other:?})"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_are_sent() {
        assert!(token_shaped("pm_card_visa"));
        assert!(token_shaped("pm_1NxYzAbC2dEf3GhI4jKl5MnO"));
        assert!(!token_shaped(&"1234".repeat(4)));
        assert!(!token_shaped(&format!("pm_{}", "1234".repeat(4))));
        assert!(!token_shaped("pm_card visa"));
        assert!(id_shaped("pi_abc123"));
        assert!(!id_shaped("pi_abc/../refunds"));
    }
}

//! The HTTP side: one attempt loop (timeout, retries with the same idempotency key,
//! breaker) under six typed calls, each in a `provider.<call>` span and counted.

use super::types::{
    Authorization, Authorize, HasId, Intent, IntentStatus, ProviderError, Refund, WireError,
    WireErrorBody, WireIntent, WireList, WireRefund,
};
use super::{ProviderSettings, SecretKey};
use cartflow_kit::upstream::{Breaker, UpstreamSettings, jittered};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{Instrument, Span, field};

/// The API version whose shapes the gateway sandbox was checked against (its
/// `stripe/subset.json`); Stripe answers in it whatever the account's default is.
const STRIPE_VERSION: &str = "2023-08-16";

/// How a refused-by-the-breaker error starts (its outcome label is `circuit_open`).
const CIRCUIT_OPEN: &str = "circuit open";

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Authorize,
    Capture,
    Cancel,
    Refund,
    Retrieve,
    ListIntents,
    ListRefunds,
}

/// A `provider.<call>` span at info level, with the fields every call records.
macro_rules! call_span {
    ($name:literal) => {
        tracing::info_span!(
            $name,
            idempotency_key = field::Empty,
            intent = field::Empty,
            attempts = field::Empty,
            outcome = field::Empty,
        )
    };
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Authorize => "authorize",
            Call::Capture => "capture",
            Call::Cancel => "cancel",
            Call::Refund => "refund",
            Call::Retrieve => "retrieve",
            Call::ListIntents => "list_intents",
            Call::ListRefunds => "list_refunds",
        }
    }

    fn span(self) -> Span {
        match self {
            Call::Authorize => call_span!("provider.authorize"),
            Call::Capture => call_span!("provider.capture"),
            Call::Cancel => call_span!("provider.cancel"),
            Call::Refund => call_span!("provider.refund"),
            Call::Retrieve => call_span!("provider.retrieve"),
            Call::ListIntents => call_span!("provider.list_intents"),
            Call::ListRefunds => call_span!("provider.list_refunds"),
        }
    }
}

/// The payment provider. Cheap to clone; clones share the breaker.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    key: SecretKey,
    http: reqwest::Client,
    settings: UpstreamSettings,
    page_size: u32,
    breaker: Mutex<Breaker>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("url", &cartflow_kit::redact::url(&self.inner.base))
            .field("key", &self.inner.key)
            .field("breaker", &*self.breaker())
            .finish()
    }
}

/// One answer from the provider.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| ProviderError::Rejected {
            status: self.status.as_u16(),
            code: Some("invalid_response".into()),
            message: format!("the provider's answer could not be read: {e}"),
        })
    }

    fn error(&self) -> WireErrorBody {
        serde_json::from_slice::<WireError>(&self.body)
            .map(|e| e.error)
            .unwrap_or_default()
    }

    fn message(&self) -> String {
        self.error()
            .message
            .unwrap_or_else(|| format!("answered {}", self.status))
    }

    fn rejected(&self) -> ProviderError {
        ProviderError::Rejected {
            status: self.status.as_u16(),
            code: self.error().code,
            message: self.message(),
        }
    }
}

/// What a call's success counts as in `cartflow_payment_provider_calls_total`.
trait Observed {
    fn outcome(&self) -> &'static str {
        "ok"
    }
}

impl Observed for Authorization {
    fn outcome(&self) -> &'static str {
        match self {
            Authorization::Approved { .. } => "approved",
            Authorization::Declined { .. } => "declined",
        }
    }
}

impl Observed for Intent {}
impl Observed for Refund {}
impl<T> Observed for Vec<T> {}

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
    pub fn new(settings: ProviderSettings) -> anyhow::Result<Self> {
        let timeout = settings.upstream.timeout;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Provider {
            inner: Arc::new(Inner {
                base: settings.url.trim_end_matches('/').to_string(),
                key: settings.key,
                http,
                settings: settings.upstream,
                page_size: settings.page_size.clamp(1, super::MAX_PAGE_SIZE),
                breaker: Mutex::new(Breaker::Closed { failures: 0 }),
            }),
        })
    }

    /// Creates and confirms a PaymentIntent with manual capture: the amount is held, or
    /// the card is declined (a decline is an answer, not an error).
    /// The longest one call can take: every attempt timing out, with the longest
    /// backoffs between them (jitter included).
    pub fn longest_call(&self) -> std::time::Duration {
        let settings = &self.inner.settings;
        let waits: std::time::Duration = (1..=settings.retries)
            .map(|attempt| {
                settings
                    .backoff
                    .saturating_mul(2u32.saturating_pow(attempt - 1))
                    .min(MAX_BACKOFF)
            })
            .sum();
        settings.timeout.saturating_mul(settings.retries + 1) + waits.mul_f64(1.5)
    }

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

    /// Runs a call in its span, then counts it and times it.
    async fn observe<T: Observed>(
        &self,
        call: Call,
        span: Span,
        work: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let started = Instant::now();
        let result = work.instrument(span.clone()).await;
        let outcome = match &result {
            Ok(value) => value.outcome(),
            Err(ProviderError::Transient(m)) if m.starts_with(CIRCUIT_OPEN) => "circuit_open",
            Err(ProviderError::Transient(_)) => "transient",
            Err(ProviderError::Rejected { .. }) => "rejected",
        };
        span.record("outcome", outcome);
        let name = call.name();
        metrics::counter!("cartflow_payment_provider_calls_total", "call" => name, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("cartflow_payment_provider_seconds", "call" => name)
            .record(started.elapsed().as_secs_f64());
        span.in_scope(|| match &result {
            Ok(_) => tracing::info!(call = name, outcome, "payment provider call"),
            Err(error) => {
                tracing::warn!(call = name, outcome, %error, "payment provider call failed")
            }
        });
        result
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.inner
            .breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records an attempt's result on the breaker: `failed` for an attempt that says the
    /// provider is unwell (no answer in time, no connection, 5xx).
    fn settle(&self, failed: bool) {
        let mut breaker = self.breaker();
        let was_open = matches!(*breaker, Breaker::Open { .. });
        if failed {
            breaker.failed(Instant::now(), &self.inner.settings);
        } else {
            breaker.succeeded();
        }
        let open = matches!(*breaker, Breaker::Open { .. });
        let labels = [("upstream", "payment_provider")];
        metrics::gauge!("cartflow_upstream_breaker_open", &labels).set(f64::from(u8::from(open)));
        if open && !was_open {
            metrics::counter!("cartflow_upstream_breaker_trips_total", &labels).increment(1);
            tracing::warn!("payment provider circuit opened after repeated failures");
        }
    }

    /// One request, attempted up to `1 + retries` times with the same idempotency key.
    /// Returns any answer that is final (2xx, 4xx but 409 and 429); a transient error
    /// when every attempt failed or the breaker is open.
    async fn send(
        &self,
        call: Call,
        method: Method,
        path: &str,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ProviderError> {
        let settings = &self.inner.settings;
        let url = format!("{}{path}", self.inner.base);
        let mut last_error = String::new();
        for attempt in 0..=settings.retries {
            if attempt > 0 {
                metrics::counter!("cartflow_payment_provider_retries_total", "call" => call.name())
                    .increment(1);
                let backoff = settings
                    .backoff
                    .saturating_mul(2u32.saturating_pow(attempt - 1))
                    .min(MAX_BACKOFF);
                tokio::time::sleep(jittered(backoff)).await;
            }
            if let Err(wait) = self.breaker().admit(Instant::now()) {
                return Err(ProviderError::Transient(format!(
                    "{CIRCUIT_OPEN} after repeated failures (next try in {} ms){}",
                    wait.as_millis(),
                    if last_error.is_empty() {
                        String::new()
                    } else {
                        format!("; last: {last_error}")
                    }
                )));
            }
            Span::current().record("attempts", attempt + 1);
            let mut request = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.inner.key.expose())
                .header("Stripe-Version", STRIPE_VERSION);
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = &body {
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.clone());
            }
            let sent = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    response.bytes().await.map(|body| Answer {
                        status,
                        body: body.to_vec(),
                    })
                }
                Err(error) => Err(error),
            };
            match sent {
                Ok(answer) if answer.status.is_server_error() => {
                    self.settle(true);
                    last_error = format!("answered {}: {}", answer.status, answer.message());
                }
                // Alive but busy: the key still in flight (409), or too many requests.
                Ok(answer)
                    if answer.status == StatusCode::CONFLICT
                        || answer.status == StatusCode::TOO_MANY_REQUESTS =>
                {
                    self.settle(false);
                    last_error = format!("answered {}: {}", answer.status, answer.message());
                }
                Ok(answer) => {
                    self.settle(false);
                    return Ok(answer);
                }
                Err(error) => {
                    self.settle(true);
                    last_error = if error.is_timeout() {
                        format!("no answer within {} ms", settings.timeout.as_millis())
                    } else if error.is_connect() {
                        "could not be reached".into()
                    } else {
                        format!("failed: {error}")
                    };
                }
            }
            tracing::warn!(
                call = call.name(),
                attempt = attempt + 1,
                error = %last_error,
                "payment provider attempt failed"
            );
        }
        Err(ProviderError::Transient(format!(
            "{last_error} ({} attempts)",
            settings.retries + 1
        )))
    }
}

/// A created intent that holds the amount is approved; any other state (e.g. the card
/// asks for 3-D Secure, which cartflow does not do) holds nothing and is a decline.
fn approved_or_not(intent: Intent) -> Authorization {
    match intent.status {
        IntentStatus::RequiresCapture | IntentStatus::Succeeded => {
            let card = intent.card.unwrap_or(super::Card {
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

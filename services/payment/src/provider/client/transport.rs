//! The attempt loop under every call: timeout, retries with the same idempotency key and
//! backoff, the circuit breaker, and each call's span outcome and metrics.

use super::{Call, MAX_BACKOFF, Provider};
use crate::provider::types::{
    Authorization, Intent, ProviderError, Refund, WireError, WireErrorBody,
};
use cartflow_kit::upstream::{Breaker, jittered};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::time::Instant;
use tracing::{Instrument, Span};

/// The API version whose shapes the gateway sandbox was checked against (its
/// `stripe/subset.json`); Stripe answers in it whatever the account's default is.
const STRIPE_VERSION: &str = "2023-08-16";

/// How a refused-by-the-breaker error starts (its outcome label is `circuit_open`).
const CIRCUIT_OPEN: &str = "circuit open";

/// One answer from the provider.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    pub(super) fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| ProviderError::Rejected {
            status: self.status.as_u16(),
            code: Some("invalid_response".into()),
            message: format!("the provider's answer could not be read: {e}"),
        })
    }

    pub(super) fn error(&self) -> WireErrorBody {
        serde_json::from_slice::<WireError>(&self.body)
            .map(|e| e.error)
            .unwrap_or_default()
    }

    fn message(&self) -> String {
        self.error()
            .message
            .unwrap_or_else(|| format!("answered {}", self.status))
    }

    pub(super) fn rejected(&self) -> ProviderError {
        ProviderError::Rejected {
            status: self.status.as_u16(),
            code: self.error().code,
            message: self.message(),
        }
    }
}

/// What a call's success counts as in `cartflow_payment_provider_calls_total`.
pub(super) trait Observed {
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

impl Provider {
    /// Runs a call in its span, then counts it and times it.
    pub(super) async fn observe<T: Observed>(
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

    pub(super) fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
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
    pub(super) async fn send(
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

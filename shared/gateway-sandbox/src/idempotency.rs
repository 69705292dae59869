//! `Idempotency-Key` as Stripe honours it on every POST:
//!
//! - the first request with a key runs, and its answer (status and body) is saved once
//!   the operation has run, success or failure (a decline, a capture refused for the
//!   intent's state);
//! - the same key with the same parameters (method, path, form fields in any order)
//!   gets that answer again, with `Idempotent-Replayed: true`, and nothing runs twice;
//! - the same key with other parameters: 400 `idempotency_error`;
//! - the same key while the first request still runs: 409 `idempotency_key_in_use`
//!   (type `invalid_request_error`, as Stripe answers it; clients retry it);
//! - nothing is saved when the operation did not run ("we save results only after the
//!   execution of an endpoint begins"): bad parameters, an unknown payment method, the
//!   sandbox's injected 500 (`pm_card_flaky`), so a retry with the same key runs.
//!
//! The operation runs in a task of its own: a client that gives up (times out) does
//! not cancel it, so a slow request still finishes, once, and its answer waits for the
//! retry.

use crate::objects::{Answer, StripeError};
use crate::params::Params;
use crate::state::Shared;
use axum::http::HeaderMap;
use axum::response::Response;
use std::future::Future;
use std::sync::Arc;

pub(crate) enum KeyEntry {
    InFlight,
    Done { fingerprint: String, answer: Answer },
}

/// How an operation ended, and so whether its answer is kept for its key.
pub(crate) enum Outcome {
    /// It ran (whatever it answered): saved for replays.
    Executed(Answer),
    /// It did not run: not saved, the key is free again.
    Refused(Answer),
}

impl Outcome {
    fn answer(&self) -> &Answer {
        match self {
            Outcome::Executed(a) | Outcome::Refused(a) => a,
        }
    }
}

impl From<StripeError> for Outcome {
    /// An error before anything ran.
    fn from(error: StripeError) -> Self {
        Outcome::Refused(error.0)
    }
}

enum Begin {
    Run,
    Replay(Answer),
    InFlight,
    Mismatch,
}

/// Stripe's limit on a key's length.
const MAX_KEY_CHARS: usize = 255;

/// Runs a POST operation under its `Idempotency-Key` (if any) and answers.
pub(crate) async fn run<F, Fut>(
    shared: Arc<Shared>,
    headers: &HeaderMap,
    path: &str,
    params: Params,
    operation: F,
) -> Response
where
    F: FnOnce(Arc<Shared>, Params, Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from);
    let fingerprint = format!("POST {path}?{}", params.fingerprint());
    if let Some(key) = &key {
        if key.chars().count() > MAX_KEY_CHARS {
            return StripeError::invalid_request(
                400,
                None,
                format!("Invalid Idempotency-Key: at most {MAX_KEY_CHARS} characters"),
                None,
            )
            .0
            .respond(None, false);
        }
        match begin(&shared, key, &fingerprint) {
            Begin::Run => {}
            Begin::Replay(answer) => return answer.respond(Some(key), true),
            Begin::InFlight => {
                return StripeError::invalid_request(
                    409,
                    Some("idempotency_key_in_use"),
                    format!(
                        "There is currently another in-progress request using this Idempotent \
                         Key (that probably means you submitted twice, and the other request is \
                         still going through): {key}. Please try again later."
                    ),
                    None,
                )
                .0
                .respond(Some(key), false);
            }
            Begin::Mismatch => {
                return StripeError::idempotency(format!(
                    "Keys for idempotent requests can only be used with the same parameters \
                     they were first used with. Try using a key other than '{key}' if you meant \
                     to execute a different request."
                ))
                .0
                .respond(Some(key), false);
            }
        }
    }

    let task = {
        let shared = shared.clone();
        let key = key.clone();
        tokio::spawn(async move {
            let outcome = operation(shared.clone(), params, key.clone()).await;
            if let Some(key) = key {
                finish(&shared, key, fingerprint, &outcome);
            }
            outcome
        })
    };
    match task.await {
        Ok(outcome) => outcome.answer().clone().respond(key.as_deref(), false),
        Err(error) => {
            if let Some(key) = &key {
                shared.lock().keys.remove(key);
            }
            tracing::error!(%error, "gateway sandbox operation failed");
            StripeError::api_error(500, "An unknown error occurred in the sandbox.".into())
                .0
                .respond(key.as_deref(), false)
        }
    }
}

fn begin(shared: &Shared, key: &str, fingerprint: &str) -> Begin {
    let mut inner = shared.lock();
    match inner.keys.get(key) {
        None => {
            inner.keys.insert(key.to_string(), KeyEntry::InFlight);
            Begin::Run
        }
        Some(KeyEntry::InFlight) => {
            inner.counts.repeated += 1;
            Begin::InFlight
        }
        Some(KeyEntry::Done {
            fingerprint: saved, ..
        }) if saved != fingerprint => Begin::Mismatch,
        Some(KeyEntry::Done { answer, .. }) => {
            let answer = answer.clone();
            inner.counts.repeated += 1;
            Begin::Replay(answer)
        }
    }
}

fn finish(shared: &Shared, key: String, fingerprint: String, outcome: &Outcome) {
    let mut inner = shared.lock();
    match outcome {
        Outcome::Executed(answer) => {
            inner.keys.insert(
                key,
                KeyEntry::Done {
                    fingerprint,
                    answer: answer.clone(),
                },
            );
        }
        Outcome::Refused(_) => {
            inner.keys.remove(&key);
        }
    }
}

//! Dead letters through the services' admin routes, with the signed-in operator's
//! token: list what every dead-letter subscription holds, and replay a selection.
//! Every replay is logged (the console's log and [`ReplayLog`]) with who and when.

use super::Console;
use super::services::Caller;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cartflow_events::Service;
use cartflow_kit::http::{ApiError, ApiJson, ApiResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Listing drains a subscription until it is quiet for 2 s; give it room.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Replays the page shows (the console's log keeps them all).
const KEPT_REPLAYS: usize = 200;

pub fn router() -> Router<Console> {
    Router::new()
        .route("/api/dead-letters", get(list))
        .route("/api/dead-letters/replay", post(replay))
        .route("/api/replays", get(replays))
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplayRecord {
    pub at: DateTime<Utc>,
    pub operator: String,
    pub service: String,
    pub subscription: String,
    pub event_ids: Vec<String>,
    pub matched: u64,
    pub replayed: u64,
}

#[derive(Default)]
pub struct ReplayLog(Mutex<Vec<ReplayRecord>>);

impl ReplayLog {
    fn record(&self, record: ReplayRecord) {
        let mut log = self.0.lock().expect("replay log poisoned");
        log.push(record);
        let excess = log.len().saturating_sub(KEPT_REPLAYS);
        log.drain(..excess);
    }

    fn newest_first(&self) -> Vec<ReplayRecord> {
        self.0
            .lock()
            .expect("replay log poisoned")
            .iter()
            .rev()
            .cloned()
            .collect()
    }
}

/// Every service's dead-letter subscriptions and what they hold. A service that does
/// not answer is listed with its error; the others still show.
async fn list(State(console): State<Console>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let operator = console.inner.sessions.operator(&headers)?;
    let services = &console.inner.services;
    let consuming = Service::ALL.iter().copied().filter(|&s| {
        cartflow_events::Topology::default()
            .subscriptions_of(s)
            .next()
            .is_some()
    });
    let answers = futures::future::join_all(consuming.map(|service| {
        let token = operator.token.as_str();
        async move {
            let admin = |path: &'static str| {
                services.call(
                    reqwest::Method::GET,
                    service,
                    path,
                    Caller::Admin(token),
                    None,
                    ADMIN_TIMEOUT,
                )
            };
            let failures = services.get_all(service, "/admin/failures", Caller::Admin(token));
            let (letters, failures) = tokio::join!(admin("/admin/dead-letters"), failures);
            // The error each letter failed with is in the consumer's failure log.
            let errors = failures
                .ok()
                .and_then(|f| f.into_ok().ok())
                .map(|failures| failures_by_event(&failures))
                .unwrap_or_default();
            (
                service,
                letters.map(|l| l.map_ok(|body| with_errors(body, &errors))),
            )
        }
    }))
    .await;
    let mut subscriptions = Vec::new();
    let mut errors = Vec::new();
    for (service, reply) in answers {
        match reply.map(|r| r.into_ok()) {
            Ok(Ok(body)) => {
                for sub in body["subscriptions"].as_array().into_iter().flatten() {
                    subscriptions.push(json!({
                        "service": service.name(),
                        "subscription": sub["subscription"],
                        "messages": sub["messages"],
                    }));
                }
            }
            Ok(Err(refused)) if refused.status.as_u16() == 401 => {
                return Err(ApiError::Unauthorized(format!(
                    "{service} refused the admin token: {}",
                    refused.detail()
                )));
            }
            Ok(Err(refused)) => {
                errors.push(json!({ "service": service.name(), "error": refused.detail() }))
            }
            Err(err) => errors.push(json!({ "service": service.name(), "error": err.to_string() })),
        }
    }
    Ok(Json(
        json!({ "subscriptions": subscriptions, "errors": errors }),
    ))
}

/// The consumer's unresolved failures (its `/admin/failures`), by event id.
fn failures_by_event(failures: &Value) -> HashMap<String, Value> {
    failures
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| Some((f["event_id"].as_str()?.to_string(), f.clone())))
        .collect()
}

/// Each listed letter with the error its consumer recorded for it, if any.
fn with_errors(mut listed: Value, errors: &HashMap<String, Value>) -> Value {
    for sub in listed["subscriptions"].as_array_mut().into_iter().flatten() {
        for letter in sub["messages"].as_array_mut().into_iter().flatten() {
            let failure = letter["event_id"].as_str().and_then(|id| errors.get(id));
            if let Some(f) = failure {
                letter["error"] = f["last_error"].clone();
                letter["failure_kind"] = f["kind"].clone();
            }
        }
    }
    listed
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    service: String,
    subscription: String,
    event_ids: Vec<String>,
}

async fn replay(
    State(console): State<Console>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReplayRequest>,
) -> ApiResult<Response> {
    let operator = console.inner.sessions.operator(&headers)?;
    let service: Service = body
        .service
        .parse()
        .map_err(|_| ApiError::Unprocessable(format!("{} is not a service", body.service)))?;
    if body.event_ids.is_empty() {
        return Err(ApiError::Unprocessable(
            "choose the dead letters to replay".into(),
        ));
    }
    let request = json!({ "subscription": body.subscription, "event_ids": body.event_ids });
    let reply = console
        .inner
        .services
        .call(
            reqwest::Method::POST,
            service,
            "/admin/dead-letters/replay",
            Caller::Admin(&operator.token),
            Some(&request),
            ADMIN_TIMEOUT,
        )
        .await?;
    let report = match reply.into_ok() {
        Ok(report) => report,
        Err(refused) => return Ok(refused.into_response()),
    };
    let count = |field: &str| -> u64 {
        report["subscriptions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["report"][field].as_u64())
            .sum()
    };
    let record = ReplayRecord {
        at: Utc::now(),
        operator: operator.name.clone(),
        service: service.name().to_string(),
        subscription: body.subscription,
        event_ids: body.event_ids,
        matched: count("matched"),
        replayed: count("replayed"),
    };
    tracing::info!(
        operator = %record.operator,
        service = %record.service,
        subscription = %record.subscription,
        event_ids = ?record.event_ids,
        replayed = record.replayed,
        "dead letters replayed from the console"
    );
    console.inner.replays.record(record.clone());
    Ok(Json(record).into_response())
}

async fn replays(State(console): State<Console>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    console.inner.sessions.operator(&headers)?;
    Ok(Json(
        json!({ "replays": console.inner.replays.newest_first() }),
    ))
}

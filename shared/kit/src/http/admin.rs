//! The operator's routes on every service, behind the bearer token `ADMIN_TOKEN`. They
//! do what `cartflow dlq` and `cartflow events` do, for this service only:
//!
//! - `GET  /admin/dead-letters`: what this service's dead-letter subscriptions hold.
//! - `POST /admin/dead-letters/replay`: publish matching dead letters back to their
//!   topic. Body: `{"event_ids": [..], "event_type", "since", "until", "subscription",
//!   "dry_run"}`, every field optional; `{}` replays them all.
//! - `GET  /admin/events`: this service's outbox log, and the consumed events it failed
//!   and has not processed since.
//! - `POST /admin/events/replay`: re-publish logged events. Body: `{"event_ids": [..],
//!   "event_type", "correlation_id", "since", "until", "dry_run"}`; at least one selector.
//!
//! Replays keep event ids, so they are safe to repeat (docs/operations.md).
//! Without `ADMIN_TOKEN` the routes answer 401 and say why.

use crate::http::{ApiError, ApiJson, ApiQuery, ApiResult};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use cartflow_events::Service;
use cartflow_messaging::dead_letters::{self, DeadLetter, Filter};
use cartflow_messaging::event_log::{self, EventFilter};
use cartflow_messaging::{Outbox, PubSubConfig};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// Most logged events one listing returns.
const LIST_LIMIT: i64 = 500;

#[derive(Clone)]
pub struct Admin {
    pub service: Service,
    pub token: Option<Arc<str>>,
    pub pubsub: PubSubConfig,
    pub outbox: Outbox,
}

pub fn router(admin: Admin) -> Router {
    Router::new()
        .route("/admin/dead-letters", get(list_dead_letters))
        .route("/admin/dead-letters/replay", post(replay_dead_letters))
        .route("/admin/events", get(list_events))
        .route("/admin/events/replay", post(replay_events))
        .route_layer(middleware::from_fn_with_state(admin.clone(), require_token))
        .with_state(admin)
}

async fn require_token(
    State(admin): State<Admin>,
    request: Request,
    next: Next,
) -> ApiResult<Response> {
    let Some(expected) = &admin.token else {
        return Err(ApiError::Unauthorized(
            "the admin routes are disabled: start the service with ADMIN_TOKEN set".into(),
        ));
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if same_secret(token.trim(), expected) => Ok(next.run(request).await),
        Some(_) => Err(ApiError::Unauthorized("wrong admin token".into())),
        None => Err(ApiError::Unauthorized(
            "missing Authorization: Bearer <ADMIN_TOKEN>".into(),
        )),
    }
}

/// Pub/Sub did not answer: the operator needs to see why.
fn unavailable(err: anyhow::Error) -> ApiError {
    ApiError::Unavailable {
        detail: format!("{err:#}"),
        retry_after: None,
    }
}

/// Compares without stopping at the first difference, so that response times do not
/// tell how much of a guess was right.
pub fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn list_dead_letters(State(admin): State<Admin>) -> ApiResult<Json<Value>> {
    let subscriptions = dead_letters::dead_letter_subscriptions_of(&admin.pubsub, admin.service);
    let listed = futures::future::join_all(subscriptions.iter().map(|name| {
        let pubsub = &admin.pubsub;
        async move { dead_letters::list(pubsub, name, dead_letters::DEFAULT_IDLE).await }
    }))
    .await;
    let mut out = Vec::new();
    for (name, letters) in subscriptions.iter().zip(listed) {
        let letters: Vec<DeadLetter> = letters.map_err(unavailable)?;
        out.push(json!({ "subscription": name, "messages": letters }));
    }
    Ok(Json(
        json!({ "service": admin.service.name(), "subscriptions": out }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DeadLetterReplay {
    subscription: Option<String>,
    event_ids: Vec<String>,
    event_type: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    dry_run: bool,
}

async fn replay_dead_letters(
    State(admin): State<Admin>,
    ApiJson(body): ApiJson<DeadLetterReplay>,
) -> ApiResult<Json<Value>> {
    let own = dead_letters::dead_letter_subscriptions_of(&admin.pubsub, admin.service);
    let chosen = match body.subscription {
        None => own,
        Some(name) if own.contains(&name) => vec![name],
        Some(name) => {
            return Err(ApiError::Unprocessable(format!(
                "{name} is not a dead-letter subscription of {}; its own are: {}",
                admin.service,
                own.join(", ")
            )));
        }
    };
    let filter = Filter {
        event_ids: body.event_ids,
        event_type: body.event_type,
        since: body.since,
        until: body.until,
    };
    let mut reports = Vec::new();
    for name in chosen {
        let report = dead_letters::replay(
            &admin.pubsub,
            &name,
            &filter,
            body.dry_run,
            dead_letters::DEFAULT_IDLE,
            |done, total, letter| {
                tracing::info!(subscription = %name, done, total, message_id = %letter.message_id,
                    event_id = letter.event_id.as_deref().unwrap_or("-"), dry_run = body.dry_run, "dead letter replay");
            },
        )
        .await
        .map_err(unavailable)?;
        reports.push(json!({ "subscription": name, "report": report }));
    }
    Ok(Json(
        json!({ "dry_run": body.dry_run, "subscriptions": reports }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EventQuery {
    event_type: Option<String>,
    correlation_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

async fn list_events(
    State(admin): State<Admin>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> ApiResult<Json<Value>> {
    let filter = EventFilter {
        event_ids: Vec::new(),
        event_type: query.event_type,
        correlation_id: query.correlation_id,
        since: query.since,
        until: query.until,
    };
    let pool = admin.outbox.pool();
    let published = event_log::published(pool, &filter, LIST_LIMIT).await?;
    let failures = event_log::unresolved_failures(pool).await?;
    Ok(Json(json!({
        "service": admin.service.name(),
        "published": published,
        "unresolved_failures": failures,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EventReplay {
    event_ids: Vec<Uuid>,
    event_type: Option<String>,
    correlation_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    dry_run: bool,
}

async fn replay_events(
    State(admin): State<Admin>,
    ApiJson(body): ApiJson<EventReplay>,
) -> ApiResult<Json<Value>> {
    let filter = EventFilter {
        event_ids: body.event_ids,
        event_type: body.event_type,
        correlation_id: body.correlation_id,
        since: body.since,
        until: body.until,
    };
    if !event_log::selects(&filter) {
        return Err(ApiError::Unprocessable(
            "choose the events to replay: event_ids, event_type, correlation_id, since or until"
                .into(),
        ));
    }
    let pool = admin.outbox.pool();
    let matched = event_log::published(pool, &filter, i64::MAX).await?;
    let ids: Vec<Uuid> = matched.iter().map(|e| e.event_id).collect();
    let requeued = if body.dry_run {
        0
    } else {
        let n = event_log::requeue(pool, &ids).await?;
        admin.outbox.requeued().await;
        tracing::info!(service = %admin.service, requeued = n, "logged events queued for publishing again");
        n
    };
    Ok(Json(json!({
        "dry_run": body.dry_run,
        "matched": ids.len(),
        "requeued": requeued,
        "event_ids": ids,
    })))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_match_only_exactly() {
        assert!(same_secret("0123456789abcdef", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcdeF", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcde", "0123456789abcdef"));
        assert!(!same_secret("", "0123456789abcdef"));
    }
}

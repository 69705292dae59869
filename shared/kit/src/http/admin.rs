//! The operator's routes on every service, behind the bearer token `ADMIN_TOKEN`. They
//! do what `cartflow dlq` and `cartflow events` do, for this service only:
//!
//! - `GET  /admin/dead-letters`: what this service's dead-letter subscriptions hold.
//! - `POST /admin/dead-letters/replay`: publish matching dead letters back to their
//!   topic. Body: `{"event_ids": [..], "event_type", "since", "until", "subscription",
//!   "dry_run"}`, every field optional; `{}` replays them all.
//! - `GET  /admin/events`: this service's outbox log, a page at a time.
//! - `GET  /admin/failures`: the consumed events it failed and has not processed since.
//! - `POST /admin/events/replay`: re-publish logged events. Body: `{"event_ids": [..],
//!   "event_type", "correlation_id", "since", "until", "dry_run"}`; at least one selector.
//!
//! Replays keep event ids, so they are safe to repeat (docs/operations.md).
//! Without `ADMIN_TOKEN` the routes answer 401 and say why.

use crate::http::openapi::ApiRouter;
use crate::http::{ApiError, ApiJson, Listing, PageParams, Problem};
use crate::http::{ApiResult, NoFilters};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use cartflow_api::Page;
use cartflow_events::Service;
use cartflow_messaging::dead_letters::{self, DeadLetter, Filter, ReplayReport};
use cartflow_messaging::event_log::{self, EventFilter, LoggedEvent, UnresolvedFailure};
use cartflow_messaging::{Outbox, PubSubConfig};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Clone)]
pub struct Admin {
    pub service: Service,
    pub token: Option<Arc<str>>,
    pub pubsub: PubSubConfig,
    pub outbox: Outbox,
}

pub fn router(admin: Admin) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(replay_dead_letters))
        .routes(routes!(list_events))
        .routes(routes!(list_failures))
        .routes(routes!(replay_events))
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

/// What one dead-letter subscription holds.
#[derive(Debug, Serialize, ToSchema)]
struct HeldLetters {
    subscription: String,
    messages: Vec<DeadLetter>,
}

/// Everything this service's dead-letter subscriptions hold.
#[derive(Debug, Serialize, ToSchema)]
struct DeadLetters {
    service: String,
    subscriptions: Vec<HeldLetters>,
}

/// What this service's dead-letter subscriptions hold, every message of each (read and
/// left in place: not a stored list, so not paged; a subscription is read until it has
/// been quiet for two seconds).
#[utoipa::path(get, path = "/admin/dead-letters", tag = "operator",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Every held message, by dead-letter subscription", body = DeadLetters),
        (status = 503, description = "Pub/Sub did not answer", body = Problem, content_type = "application/problem+json")))]
async fn list_dead_letters(State(admin): State<Admin>) -> ApiResult<Json<DeadLetters>> {
    let names = dead_letters::dead_letter_subscriptions_of(&admin.pubsub, admin.service);
    let listed = futures::future::join_all(names.iter().map(|name| {
        let pubsub = &admin.pubsub;
        async move { dead_letters::list(pubsub, name, dead_letters::DEFAULT_IDLE).await }
    }))
    .await;
    let mut subscriptions = Vec::new();
    for (name, letters) in names.into_iter().zip(listed) {
        subscriptions.push(HeldLetters {
            subscription: name,
            messages: letters.map_err(unavailable)?,
        });
    }
    Ok(Json(DeadLetters {
        service: admin.service.name().into(),
        subscriptions,
    }))
}

/// Which dead letters to publish again; every field optional, `{}` replays them all.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
struct DeadLetterReplay {
    /// One of this service's dead-letter subscriptions; all of them by default.
    subscription: Option<String>,
    event_ids: Vec<String>,
    event_type: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Count what would be replayed and change nothing.
    dry_run: bool,
}

/// One subscription's replay.
#[derive(Debug, Serialize, ToSchema)]
struct SubscriptionReplay {
    subscription: String,
    report: ReplayReport,
}

#[derive(Debug, Serialize, ToSchema)]
struct DeadLettersReplayed {
    dry_run: bool,
    subscriptions: Vec<SubscriptionReplay>,
}

/// Publishes matching dead letters back to the topic they came from (their event ids
/// kept, so consumers that had them skip them).
#[utoipa::path(post, path = "/admin/dead-letters/replay", tag = "operator",
    security(("admin_token" = [])), request_body = DeadLetterReplay,
    responses(
        (status = 200, description = "What was (or, dry, would be) replayed, by subscription", body = DeadLettersReplayed),
        (status = 503, description = "Pub/Sub did not answer", body = Problem, content_type = "application/problem+json")))]
async fn replay_dead_letters(
    State(admin): State<Admin>,
    ApiJson(body): ApiJson<DeadLetterReplay>,
) -> ApiResult<Json<DeadLettersReplayed>> {
    let own = dead_letters::dead_letter_subscriptions_of(&admin.pubsub, admin.service);
    let chosen = match body.subscription {
        None => own,
        Some(name) if own.contains(&name) => vec![name],
        Some(name) => {
            return Err(ApiError::invalid_field(
                "subscription",
                format!(
                    "{name} is not a dead-letter subscription of {}; its own are: {}",
                    admin.service,
                    own.join(", ")
                ),
            ));
        }
    };
    let filter = Filter {
        event_ids: body.event_ids,
        event_type: body.event_type,
        since: body.since,
        until: body.until,
    };
    let mut subscriptions = Vec::new();
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
        subscriptions.push(SubscriptionReplay {
            subscription: name,
            report,
        });
    }
    Ok(Json(DeadLettersReplayed {
        dry_run: body.dry_run,
        subscriptions,
    }))
}

/// Which logged events to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventQuery {
    event_type: Option<String>,
    /// The saga's id (the cart's).
    correlation_id: Option<String>,
    /// Created at or after.
    since: Option<DateTime<Utc>>,
    /// Created at or before.
    until: Option<DateTime<Utc>>,
}

/// This service's outbox log (what it published, or has yet to), oldest first.
#[utoipa::path(get, path = "/admin/events", tag = "operator",
    params(EventQuery, PageParams), security(("admin_token" = [])),
    responses((status = 200, description = "A page of logged events, oldest first", body = Page<LoggedEvent>)))]
async fn list_events(
    State(admin): State<Admin>,
    listing: Listing<EventQuery>,
) -> ApiResult<Json<Page<LoggedEvent>>> {
    let (query, page) = (listing.filters, listing.page);
    let filter = EventFilter {
        event_ids: Vec::new(),
        event_type: query.event_type,
        correlation_id: query.correlation_id,
        since: query.since,
        until: query.until,
    };
    let pool = admin.outbox.pool();
    let rows = event_log::published(pool, &filter, page.after()?, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |e| e.seq)))
}

/// The consumed events this service failed and has not processed since, oldest
/// failure first.
#[utoipa::path(get, path = "/admin/failures", tag = "operator",
    params(PageParams), security(("admin_token" = [])),
    responses((status = 200, description = "A page of unresolved failures, oldest first", body = Page<UnresolvedFailure>)))]
async fn list_failures(
    State(admin): State<Admin>,
    listing: Listing<NoFilters>,
) -> ApiResult<Json<Page<UnresolvedFailure>>> {
    let page = listing.page;
    let pool = admin.outbox.pool();
    let rows = event_log::unresolved_failures(pool, page.after()?, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |f| (f.last_failed_at, f.event_id))))
}

/// Which logged events to publish again: at least one selector.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
struct EventReplay {
    event_ids: Vec<Uuid>,
    event_type: Option<String>,
    correlation_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Count what would be replayed and change nothing.
    dry_run: bool,
}

#[derive(Debug, Serialize, ToSchema)]
struct EventsReplayed {
    dry_run: bool,
    /// Logged events the selectors matched.
    matched: usize,
    /// Of those, how many were queued for publishing again (rows not yet published
    /// are queued already).
    requeued: u64,
    event_ids: Vec<Uuid>,
}

/// Publishes logged events again, with their event ids (consumers that had them skip
/// them).
#[utoipa::path(post, path = "/admin/events/replay", tag = "operator",
    security(("admin_token" = [])), request_body = EventReplay,
    responses((status = 200, description = "What was (or, dry, would be) replayed", body = EventsReplayed)))]
async fn replay_events(
    State(admin): State<Admin>,
    ApiJson(body): ApiJson<EventReplay>,
) -> ApiResult<Json<EventsReplayed>> {
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
    let matched = event_log::published(pool, &filter, None, i64::MAX).await?;
    let ids: Vec<Uuid> = matched.iter().map(|e| e.event_id).collect();
    let requeued = if body.dry_run {
        0
    } else {
        let n = event_log::requeue(pool, &ids).await?;
        admin.outbox.requeued().await;
        tracing::info!(service = %admin.service, requeued = n, "logged events queued for publishing again");
        n
    };
    Ok(Json(EventsReplayed {
        dry_run: body.dry_run,
        matched: ids.len(),
        requeued,
        event_ids: ids,
    }))
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

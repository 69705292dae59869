//! `/emails` and `/push` REST routes, with a live server-sent-event stream per customer.
//! A customer sees their own emails and push messages; staff see everyone's.

use crate::live::Live;
use crate::store::{self, Email, Push};
use axum::Json;
use axum::response::sse::{Event, KeepAlive, Sse};
use cartflow_api::Page;
use cartflow_kit::auth::{Authenticator, SignIn};
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, PageParams, Problem};
use cartflow_kit::{ApiError, ApiPath, ApiResult, Caller};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Clone)]
pub struct State {
    pub pool: PgPool,
    pub live: Live,
    pub shutdown: CancellationToken,
    pub streams: Streams,
}

/// The live streams this instance serves: at most `per_caller` open at once for one
/// caller (429 beyond), each re-checking its caller's sign-in every `recheck`.
#[derive(Clone)]
pub struct Streams {
    open: Arc<Mutex<HashMap<Caller, usize>>>,
    per_caller: usize,
    recheck: Duration,
}

impl Streams {
    pub fn new(per_caller: usize, recheck: Duration) -> Streams {
        Streams {
            open: Arc::default(),
            per_caller,
            recheck,
        }
    }

    /// A place for one more stream of `caller`, held until the stream ends.
    fn take(&self, caller: Caller) -> Option<StreamSlot> {
        let mut open = self.open.lock().expect("streams poisoned");
        let count = open.entry(caller).or_default();
        if *count >= self.per_caller {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            open: self.open.clone(),
            caller,
        })
    }
}

/// One open stream; dropping it (the stream ended or the client left) frees its place.
struct StreamSlot {
    open: Arc<Mutex<HashMap<Caller, usize>>>,
    caller: Caller,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("streams poisoned");
        if let Some(count) = open.get_mut(&self.caller) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

pub fn router(state: State) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(emails))
        .routes(routes!(inbox))
        .routes(routes!(stream))
        .with_state(state)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EmailQuery {
    /// Only emails to this address.
    to: Option<String>,
}

/// Emails sent or being sent, newest first: the caller's own, or everyone's for staff.
#[utoipa::path(get, path = "/emails", tag = "email", params(EmailQuery, PageParams),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses((status = 200, description = "A page of emails, newest first", body = Page<Email>)))]
async fn emails(
    axum::extract::State(s): axum::extract::State<State>,
    caller: Caller,
    listing: Listing<EmailQuery>,
) -> ApiResult<Json<Page<Email>>> {
    let Ok(customer) = caller.list_filter(None) else {
        return Ok(Json(Page::last(Vec::new())));
    };
    let page = listing.page;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let to = listing.filters.to.as_deref();
    let rows = store::emails(&s.pool, to, customer, after, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |e| (e.created_at, e.id))))
}

/// Someone else's inbox is answered as if it did not exist.
fn own_inbox(caller: &Caller, customer_id: Uuid) -> ApiResult<()> {
    if caller.may_access(customer_id) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "no push inbox for customer {customer_id}"
        )))
    }
}

/// A customer's push messages, newest first: the caller's own, or anyone's for staff.
#[utoipa::path(get, path = "/push/{customer_id}", tag = "push",
    params(("customer_id" = Uuid, Path, description = "The customer's id"), PageParams),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "A page of push messages, newest first", body = Page<Push>),
        (status = 404, description = "Not the caller's inbox", body = Problem, content_type = "application/problem+json")))]
async fn inbox(
    axum::extract::State(s): axum::extract::State<State>,
    caller: Caller,
    ApiPath(customer_id): ApiPath<Uuid>,
    listing: Listing<cartflow_kit::http::NoFilters>,
) -> ApiResult<Json<Page<Push>>> {
    own_inbox(&caller, customer_id)?;
    let page = listing.page;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let rows = store::pushes(&s.pool, customer_id, after, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |p| (p.created_at, p.id))))
}

/// Long enough to stand for "never" (a token without expiry: header mode).
const NEVER: Duration = Duration::from_secs(365 * 86_400);

/// What one stream carries along: where pushes come from, and what ends it.
struct Watch {
    receiver: tokio::sync::broadcast::Receiver<Push>,
    shutdown: CancellationToken,
    authenticator: Authenticator,
    sign_in: SignIn,
    recheck: tokio::time::Interval,
    /// Fires when the caller's token expires (never in header mode).
    expiry: std::pin::Pin<Box<tokio::time::Sleep>>,
    _slot: StreamSlot,
}

/// `event: push` with the message as JSON, for every push to this customer from now
/// on. Ends when the service shuts down, when the caller's token expires, or when a
/// periodic re-check finds the sign-in no longer holds (the customer was deleted).
#[utoipa::path(get, path = "/push/{customer_id}/stream", tag = "push",
    params(("customer_id" = Uuid, Path, description = "The customer's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "Server-sent events: `event: push`, `id` the message's id, `data` the message (a `Push`) as JSON", content_type = "text/event-stream", body = String),
        (status = 404, description = "Not the caller's inbox", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many live streams for this caller; close one first", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn stream(
    axum::extract::State(s): axum::extract::State<State>,
    sign_in: SignIn,
    authenticator: Authenticator,
    ApiPath(customer_id): ApiPath<Uuid>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    own_inbox(&sign_in.caller, customer_id)?;
    let slot = s
        .streams
        .take(sign_in.caller)
        .ok_or_else(|| ApiError::TooManyRequests {
            detail: format!(
                "at most {} live streams at once per caller; close one first",
                s.streams.per_caller
            ),
            retry_after: 5,
        })?;
    let left = sign_in
        .expires_at
        .map(|at| (at - chrono::Utc::now()).to_std().unwrap_or_default())
        .unwrap_or(NEVER);
    let recheck = s.streams.recheck.max(Duration::from_millis(100));
    let watch = Watch {
        receiver: s.live.subscribe(),
        shutdown: s.shutdown,
        authenticator,
        sign_in,
        recheck: tokio::time::interval_at(tokio::time::Instant::now() + recheck, recheck),
        expiry: Box::pin(tokio::time::sleep(left)),
        _slot: slot,
    };
    let events = futures::stream::unfold(watch, move |mut watch| async move {
        loop {
            let next = tokio::select! {
                _ = watch.shutdown.cancelled() => return None,
                _ = &mut watch.expiry => {
                    tracing::info!(%customer_id, "push stream ended: the token expired");
                    return None;
                }
                _ = watch.recheck.tick() => {
                    if let Err(refused) = watch.authenticator.still_signed_in(&watch.sign_in).await {
                        tracing::info!(%customer_id, reason = %refused, "push stream ended: the sign-in no longer holds");
                        return None;
                    }
                    continue;
                }
                next = watch.receiver.recv() => next,
            };
            match next {
                Ok(push) if push.customer_id == customer_id => {
                    let event = Event::default()
                        .event("push")
                        .id(push.id.to_string())
                        .json_data(&push)
                        .ok()?;
                    return Some((Ok(event), watch));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

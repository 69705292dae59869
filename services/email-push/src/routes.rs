//! `/emails` and `/push` REST routes, with a live server-sent-event stream per customer.
//! A customer sees their own emails and push messages; staff see everyone's.

use crate::live::Live;
use crate::store::{self, Email, Push};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use cartflow_kit::{ApiError, ApiPath, ApiQuery, ApiResult, Caller};
use futures::Stream;
use serde::Deserialize;
use sqlx::PgPool;
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Clone)]
pub struct State {
    pub pool: PgPool,
    pub live: Live,
    pub shutdown: CancellationToken,
}

pub fn router(state: State) -> Router {
    Router::new()
        .route("/emails", get(emails))
        .route("/push/{customer_id}", get(inbox))
        .route("/push/{customer_id}/stream", get(stream))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailQuery {
    to: Option<String>,
}

async fn emails(
    axum::extract::State(s): axum::extract::State<State>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EmailQuery>,
) -> ApiResult<Json<Vec<Email>>> {
    let Ok(customer) = caller.list_filter(None) else {
        return Ok(Json(Vec::new()));
    };
    Ok(Json(
        store::emails(&s.pool, q.to.as_deref(), customer).await?,
    ))
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

async fn inbox(
    axum::extract::State(s): axum::extract::State<State>,
    caller: Caller,
    ApiPath(customer_id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Push>>> {
    own_inbox(&caller, customer_id)?;
    Ok(Json(store::pushes(&s.pool, customer_id).await?))
}

/// `event: push` with the message as JSON, for every push to this customer from now
/// on; ends when the service shuts down.
async fn stream(
    axum::extract::State(s): axum::extract::State<State>,
    caller: Caller,
    ApiPath(customer_id): ApiPath<Uuid>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    own_inbox(&caller, customer_id)?;
    let receiver = s.live.subscribe();
    let events = futures::stream::unfold(
        (receiver, s.shutdown),
        move |(mut receiver, shutdown)| async move {
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    next = receiver.recv() => next,
                };
                match next {
                    Ok(push) if push.customer_id == customer_id => {
                        let event = Event::default()
                            .event("push")
                            .id(push.id.to_string())
                            .json_data(&push)
                            .ok()?;
                        return Some((Ok(event), (receiver, shutdown)));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

//! `/emails` and `/push` REST routes, with a live server-sent-event stream per customer.

use crate::live::Live;
use crate::store::{self, Email, Push};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use cartflow_kit::{ApiPath, ApiQuery, ApiResult};
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
    ApiQuery(q): ApiQuery<EmailQuery>,
) -> ApiResult<Json<Vec<Email>>> {
    Ok(Json(store::emails(&s.pool, q.to.as_deref()).await?))
}

async fn inbox(
    axum::extract::State(s): axum::extract::State<State>,
    ApiPath(customer_id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Push>>> {
    Ok(Json(store::pushes(&s.pool, customer_id).await?))
}

/// `event: push` with the message as JSON, for every push to this customer from now
/// on; ends when the service shuts down.
async fn stream(
    axum::extract::State(s): axum::extract::State<State>,
    ApiPath(customer_id): ApiPath<Uuid>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
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
    Sse::new(events).keep_alive(KeepAlive::default())
}

//! `/notifications` REST routes.

use crate::handlers::{self, To};
use crate::store::{self, Notification};
use crate::templates::Message;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_events::Channel;
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use cartflow_messaging::{Cause, Outbox};
use serde::Deserialize;
use uuid::Uuid;

pub fn router(outbox: Outbox) -> Router {
    Router::new()
        .route("/notifications", get(list).post(create))
        .route("/notifications/{id}", get(show))
        .with_state(outbox)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    customer_id: Option<Uuid>,
}

async fn list(
    State(outbox): State<Outbox>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    Ok(Json(store::list(outbox.pool(), q.customer_id).await?))
}

async fn show(
    State(outbox): State<Outbox>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Notification>> {
    store::get(outbox.pool(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no notification with id {id}")))
}

/// A manual notification to a customer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualNotification {
    customer_id: Uuid,
    subject: String,
    body: String,
    /// Default: both.
    channels: Option<Vec<String>>,
}

async fn create(
    State(outbox): State<Outbox>,
    ApiJson(body): ApiJson<ManualNotification>,
) -> ApiResult<(StatusCode, Json<Vec<Notification>>)> {
    let subject = body.subject.trim();
    let text = body.body.trim();
    if subject.is_empty() || subject.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "subject must be 1 to 200 characters".into(),
        ));
    }
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::Unprocessable(
            "body must be 1 to 10000 characters".into(),
        ));
    }
    let channels = match body.channels {
        None => Channel::BOTH.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(ApiError::Unprocessable("channels must not be empty".into()));
        }
        Some(names) => names
            .iter()
            .map(|n| {
                Channel::parse(n).ok_or_else(|| {
                    ApiError::Unprocessable(format!("unknown channel '{n}' (email, push)"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    // A message sent by hand starts a saga of its own.
    let mut tx = outbox.begin_for(Cause::command(Uuid::new_v4())).await?;
    let contact = store::contact(tx.conn(), body.customer_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no contact details for customer {}",
                body.customer_id
            ))
        })?;
    let message = Message {
        kind: "manual",
        subject: subject.to_string(),
        body: text.to_string(),
    };
    let to = To {
        customer_id: Some(body.customer_id),
        email: contact.email.as_deref(),
    };
    let sent = handlers::send(&mut tx, None, to, &message, &channels).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

//! `/webhooks`: staff subscribe URLs to event types and operate their deliveries.
//! Every route is staff-only.

use super::WebhookSettings;
use super::sign::{Keys, Secret};
use super::store::{self, NewEndpoint};
use super::target;
use super::worker;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cartflow_api::webhook::{CreatedSecret, Delivery, DeliveryDetail, EVENT_TYPES, Endpoint};
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Staff};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone)]
pub struct WebhookState {
    pub pool: PgPool,
    pub settings: WebhookSettings,
    pub http: reqwest::Client,
}

pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", get(show).delete(remove))
        .route("/webhooks/{id}/pause", post(pause))
        .route("/webhooks/{id}/resume", post(resume))
        .route("/webhooks/{id}/rotate-secret", post(rotate))
        .route("/webhooks/{id}/deliveries", get(deliveries))
        .route("/webhooks/{id}/deliveries/{delivery_id}", get(delivery))
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/replay",
            post(replay_one),
        )
        .route("/webhooks/{id}/replay", post(replay_failed))
        .with_state(state)
}

/// A list as SPEC's lists answer; everything fits one page (the store's cap).
#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_page_token: Option<String>,
}

fn page<T>(items: Vec<T>) -> Json<Page<T>> {
    Json(Page {
        items,
        next_page_token: None,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSubscription {
    url: String,
    events: Vec<String>,
    description: Option<String>,
}

/// Subscribes a URL once it has answered the verification call; answers the endpoint
/// with its secret (shown this once).
async fn create(
    State(state): State<WebhookState>,
    _: Staff,
    ApiJson(body): ApiJson<NewSubscription>,
) -> ApiResult<(StatusCode, Json<CreatedSecret>)> {
    let events = event_types(&body.events)?;
    if body.url.len() > 2048 {
        return Err(ApiError::Unprocessable(
            "url: at most 2048 characters".into(),
        ));
    }
    let description = body.description.as_deref().map(str::trim);
    if description.is_some_and(|d| d.chars().count() > 500) {
        return Err(ApiError::Unprocessable(
            "description: at most 500 characters".into(),
        ));
    }
    let allow_loopback = state.settings.allow_loopback;
    let checked = target::parse(&body.url, allow_loopback).map_err(ApiError::Unprocessable)?;
    target::resolve_checked(&checked, allow_loopback)
        .await
        .map_err(ApiError::Unprocessable)?;
    let secret = Secret::generate();
    verify_ownership(&state, checked.url.as_str(), &secret).await?;
    let endpoint = store::insert_endpoint(
        &state.pool,
        &NewEndpoint {
            id: Uuid::new_v4(),
            url: checked.url.as_str(),
            description: description.filter(|d| !d.is_empty()),
            events: &events,
            secret: &secret,
        },
    )
    .await?;
    tracing::info!(endpoint_id = %endpoint.id, url = %cartflow_kit::redact::url(&endpoint.url),
        events = ?endpoint.events, "webhook endpoint subscribed");
    Ok((
        StatusCode::CREATED,
        Json(CreatedSecret {
            endpoint,
            secret: secret.expose().to_string(),
        }),
    ))
}

/// The subscribed types, each once, in the order given; unknown ones refused.
fn event_types(given: &[String]) -> ApiResult<Vec<String>> {
    if given.is_empty() {
        return Err(ApiError::Unprocessable(format!(
            "events: name at least one of {}",
            EVENT_TYPES.join(", ")
        )));
    }
    let mut events: Vec<String> = Vec::new();
    for event in given {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(ApiError::Unprocessable(format!(
                "events: '{event}' is not one of {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !events.contains(event) {
            events.push(event.clone());
        }
    }
    Ok(events)
}

/// The verification call: a signed `webhook.verification` message with a random
/// challenge, which the URL must answer with a 2xx whose body contains the challenge.
/// A URL that does not (nobody there, or someone who did not ask for these events)
/// is not subscribed.
async fn verify_ownership(state: &WebhookState, url: &str, secret: &Secret) -> ApiResult<()> {
    let challenge = format!("cfchal_{}", Uuid::new_v4().simple());
    let id = Uuid::new_v4().to_string();
    let body = json!({
        "type": "webhook.verification",
        "id": id,
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "challenge": challenge,
    })
    .to_string();
    let keys = Keys {
        current: secret.clone(),
        previous: None,
    };
    let answer = worker::call(
        &state.http,
        state.settings.allow_loopback,
        url,
        &id,
        &keys,
        &body,
    )
    .await;
    let echoed = answer
        .head
        .as_deref()
        .is_some_and(|head| head.contains(&challenge));
    if answer.succeeded() && echoed {
        return Ok(());
    }
    let why = match (answer.status, answer.error) {
        (Some(status), _) if (200..300).contains(&status) => {
            format!("answered {status} without echoing the challenge")
        }
        (_, Some(error)) => error,
        (Some(status), None) => format!("answered {status}"),
        (None, None) => "no answer".into(),
    };
    Err(ApiError::Unprocessable(format!(
        "url: the verification call failed ({why}); the receiver must answer a \
         webhook.verification message with a 2xx whose body contains its challenge"
    )))
}

async fn list(State(state): State<WebhookState>, _: Staff) -> ApiResult<Json<Page<Endpoint>>> {
    Ok(page(store::endpoints(&state.pool).await?))
}

async fn found(pool: &PgPool, id: Uuid) -> ApiResult<Endpoint> {
    store::endpoint(pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook endpoint with id {id}")))
}

async fn show(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Endpoint>> {
    Ok(Json(found(&state.pool, id).await?))
}

async fn remove(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    if store::delete_endpoint(&state.pool, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no webhook endpoint with id {id}"
        )))
    }
}

async fn pause(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Endpoint>> {
    set_paused(&state.pool, id, Some("paused by staff")).await
}

async fn resume(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Endpoint>> {
    set_paused(&state.pool, id, None).await
}

async fn set_paused(pool: &PgPool, id: Uuid, reason: Option<&str>) -> ApiResult<Json<Endpoint>> {
    if !store::set_paused(pool, id, reason).await? {
        return Err(ApiError::NotFound(format!(
            "no webhook endpoint with id {id}"
        )));
    }
    Ok(Json(found(pool, id).await?))
}

/// A new secret; the old one still signs for `WEBHOOK_SECRET_OVERLAP_SECS`.
async fn rotate(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<CreatedSecret>> {
    let secret = Secret::generate();
    if !store::rotate_secret(&state.pool, id, &secret, state.settings.secret_overlap).await? {
        return Err(ApiError::NotFound(format!(
            "no webhook endpoint with id {id}"
        )));
    }
    tracing::info!(endpoint_id = %id, overlap_secs = state.settings.secret_overlap.as_secs(),
        "webhook secret rotated");
    Ok(Json(CreatedSecret {
        endpoint: found(&state.pool, id).await?,
        secret: secret.expose().to_string(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    status: Option<String>,
}

async fn deliveries(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    if let Some(status) = &q.status
        && !["pending", "delivered", "parked"].contains(&status.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "status: '{status}' is not one of pending, delivered, parked"
        )));
    }
    found(&state.pool, id).await?;
    Ok(page(
        store::deliveries(&state.pool, id, q.status.as_deref()).await?,
    ))
}

async fn delivery(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath((id, delivery_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<DeliveryDetail>> {
    let (delivery, attempts_made) = store::delivery(&state.pool, id, delivery_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no delivery {delivery_id} of endpoint {id}")))?;
    Ok(Json(DeliveryDetail {
        delivery,
        attempts_made,
    }))
}

#[derive(Serialize)]
struct Replayed {
    replayed: u64,
}

/// Sends one delivery again (delivered or parked; a pending one is on its way).
async fn replay_one(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath((id, delivery_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    if store::delivery(&state.pool, id, delivery_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!(
            "no delivery {delivery_id} of endpoint {id}"
        )));
    }
    let replayed = store::replay(&state.pool, id, Some(delivery_id), None).await?;
    if replayed == 0 {
        return Err(ApiError::Conflict(format!(
            "delivery {delivery_id} is pending already"
        )));
    }
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaySince {
    since: DateTime<Utc>,
}

/// Sends again every parked delivery of the endpoint queued since a time.
async fn replay_failed(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReplaySince>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    found(&state.pool, id).await?;
    let replayed = store::replay(&state.pool, id, None, Some(body.since)).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed })))
}

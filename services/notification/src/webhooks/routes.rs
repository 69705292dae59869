//! `/webhooks`: staff subscribe URLs to event types and operate their deliveries.
//! Every route is staff-only.

use super::WebhookSettings;
use super::sign::{Keys, Secret};
use super::store::{self, NewEndpoint};
use super::target;
use super::worker;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cartflow_api::Page;
use cartflow_api::webhook::{CreatedSecret, Delivery, DeliveryDetail, EVENT_TYPES, Endpoint};
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, NoFilters, PageParams, Problem};
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, Staff};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Clone)]
pub struct WebhookState {
    pub pool: PgPool,
    pub settings: WebhookSettings,
    pub http: reqwest::Client,
}

pub fn router(state: WebhookState) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, remove))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(rotate))
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
        .routes(routes!(replay_one))
        .routes(routes!(replay_failed))
        .with_state(state)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSubscription {
    url: String,
    events: Vec<String>,
    description: Option<String>,
}

/// Subscribes a URL once it has answered the verification call; answers the endpoint
/// with its secret (shown this once). Staff only.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewSubscription, security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 201, description = "Subscribed; the secret is shown this once", body = CreatedSecret),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json")))]
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

/// Every endpoint, oldest first, a page at a time. Staff only.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(PageParams), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 200, description = "A page of endpoints, oldest first", body = Page<Endpoint>), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json")))]
async fn list(
    State(state): State<WebhookState>,
    _: Staff,
    listing: Listing<NoFilters>,
) -> ApiResult<Json<Page<Endpoint>>> {
    let page = listing.page;
    let rows = store::endpoints(&state.pool, page.after()?, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |e| (e.created_at, e.id))))
}

async fn found(pool: &PgPool, id: Uuid) -> ApiResult<Endpoint> {
    store::endpoint(pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook endpoint with id {id}")))
}

/// One endpoint. Staff only.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 200, description = "The endpoint", body = Endpoint), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
async fn show(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Endpoint>> {
    Ok(Json(found(&state.pool, id).await?))
}

/// Unsubscribes an endpoint; its deliveries go with it. Staff only.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
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

/// Stops deliveries to an endpoint (they wait). Staff only.
#[utoipa::path(post, path = "/webhooks/{id}/pause", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 200, description = "The endpoint, paused", body = Endpoint), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
async fn pause(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Endpoint>> {
    set_paused(&state.pool, id, Some("paused by staff")).await
}

/// Delivers again to a paused endpoint. Staff only.
#[utoipa::path(post, path = "/webhooks/{id}/resume", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 200, description = "The endpoint, resumed", body = Endpoint), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
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
/// A new secret; the old one still signs beside it for the overlap. Staff only.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 200, description = "The endpoint and its new secret, shown this once", body = CreatedSecret), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
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

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// `pending`, `delivered` or `parked`.
    status: Option<String>,
}

/// An endpoint's deliveries, newest first, a page at a time. Staff only.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id"), DeliveriesQuery, PageParams), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 200, description = "A page of deliveries, newest first", body = Page<Delivery>), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
async fn deliveries(
    State(state): State<WebhookState>,
    _: Staff,
    ApiPath(id): ApiPath<Uuid>,
    listing: Listing<DeliveriesQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    let (q, page) = (listing.filters, listing.page);
    if let Some(status) = &q.status
        && !["pending", "delivered", "parked"].contains(&status.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "status: '{status}' is not one of pending, delivered, parked"
        )));
    }
    found(&state.pool, id).await?;
    let rows = store::deliveries(
        &state.pool,
        id,
        q.status.as_deref(),
        page.after()?,
        page.fetch_limit(),
    )
    .await?;
    Ok(Json(page.page(rows, |d| (d.created_at, d.id))))
}

/// One delivery with its attempts. Staff only.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries/{delivery_id}", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id"), ("delivery_id" = Uuid, Path, description = "The delivery's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 200, description = "The delivery", body = DeliveryDetail), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
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

#[derive(Serialize, utoipa::ToSchema)]
struct Replayed {
    replayed: u64,
}

/// Sends one delivery again (delivered or parked; a pending one is on its way).
/// Sends a delivery again. Staff only.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery_id}/replay", tag = "webhooks", params(("id" = Uuid, Path, description = "The endpoint's id"), ("delivery_id" = Uuid, Path, description = "The delivery's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 202, description = "Queued again", body = Replayed), (status = 409, description = "The delivery is pending already", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplaySince {
    since: DateTime<Utc>,
}

/// Sends again every parked delivery of the endpoint queued since a time.
/// Sends again every parked delivery since a time. Staff only.
#[utoipa::path(post, path = "/webhooks/{id}/replay", tag = "webhooks", request_body = ReplaySince, params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = []), ("staff_header" = [])),
    responses((status = 202, description = "Queued again", body = Replayed), (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json")))]
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

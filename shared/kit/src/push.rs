//! Push delivery: Pub/Sub POSTs each message to `POST /pubsub/push` instead of the
//! service pulling it. Concurrent requests are gathered into one batch ([`Gatherer`])
//! and go through the very same path as a pulled batch (inbox, handler, outbox, one
//! transaction); only the transport differs. A request is answered once its batch has
//! committed: a 2xx answer acks, anything else nacks, so retries and dead-lettering
//! behave as with pull.
//!
//! In Google Cloud every push request carries an OIDC token that Pub/Sub signs for
//! the subscription's service account. It is verified here (signature against
//! Google's keys, issuer, audience, and the service account's email, which the
//! configuration requires) before anything else happens; a request without a valid
//! token gets 401 and changes nothing. The emulator sends no tokens, so
//! unauthenticated push is allowed only with the emulator (the configuration refuses
//! it otherwise).

use crate::auth::jwks::Jwks;
use crate::auth::token::{TokenError, TokenVerifier};
use crate::http::openapi::ApiRouter;
use crate::http::{ApiBytes, ApiError, ApiResult, Problem};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use cartflow_messaging::consumer::{Gatherer, Outcome, Pushed};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where Google publishes the keys it signs ID tokens with.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Google writes its ID tokens' issuer both ways.
const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// Least time between two key fetches caused by unknown key ids.
const MIN_KEY_REFRESH: Duration = Duration::from_secs(30);
/// Clock skew allowed between Pub/Sub and this service.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The route Pub/Sub push subscriptions point at, relative to the service's URL.
pub const PUSH_PATH: &str = "/pubsub/push";

/// How a service receives its events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeliveryMode {
    /// Streaming pull: the service holds a stream per subscription (needs a CPU that
    /// stays allocated, e.g. Cloud Run with `cpu_idle = false`).
    #[default]
    Pull,
    /// Pub/Sub pushes to [`PUSH_PATH`]; the service only serves HTTP.
    Push(PushAuth),
}

/// Who may push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAuth {
    /// A Google-signed OIDC token is required.
    Oidc {
        /// The `aud` the subscription's push config puts in the token (the service URL).
        audience: String,
        /// The `email` of the service account the subscription signs as (required: any
        /// Google-signed token for the audience would pass otherwise).
        service_account: String,
        /// Where the signing keys are published; Google's by default (tests serve their own).
        jwks_url: Option<String>,
    },
    /// No token: only for the emulator, which cannot sign.
    Unauthenticated,
}

/// A push request as Pub/Sub sends it (the "wrapped" payload format).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PushRequest {
    message: PushedMessage,
    subscription: String,
    #[serde(default)]
    delivery_attempt: Option<i32>,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PushedMessage {
    #[serde(default)]
    attributes: HashMap<String, String>,
    /// Base64 of the message body.
    #[serde(default)]
    data: String,
    message_id: String,
}

#[derive(Clone)]
struct PushState {
    /// The service's consumers, gathering pushed messages into batches.
    gatherer: Gatherer,
    verifier: Option<Arc<PushVerifier>>,
}

/// Pub/Sub's token: Google-signed, for this audience, and for the subscription's
/// service account, with a verified email.
struct PushVerifier {
    token: TokenVerifier,
    service_account: String,
}

/// The push route for the gatherer's consumers, guarded as `auth` says.
pub fn router(gatherer: Gatherer, auth: &PushAuth) -> ApiRouter {
    let verifier = match auth {
        PushAuth::Oidc {
            audience,
            service_account,
            jwks_url,
        } => {
            let jwks = Jwks::new(
                jwks_url.as_deref().unwrap_or(GOOGLE_JWKS_URL),
                MIN_KEY_REFRESH,
            );
            let token = TokenVerifier::new(
                jwks,
                GOOGLE_ISSUERS.map(String::from).to_vec(),
                vec![audience.clone()],
                CLOCK_SKEW,
            );
            Some(Arc::new(PushVerifier {
                token,
                service_account: service_account.clone(),
            }))
        }
        PushAuth::Unauthenticated => None,
    };
    OpenApiRouter::new()
        .routes(routes!(receive))
        .with_state(PushState { gatherer, verifier })
}

/// Pub/Sub pushes one message of a subscription this service consumes (push delivery
/// only). A 2xx acks it; anything else makes Pub/Sub redeliver, then dead-letter.
#[utoipa::path(post, path = "/pubsub/push", tag = "probes", request_body = PushRequest,
    security(("pubsub_token" = [])),
    responses(
        (status = 204, description = "Processed, or a duplicate of one processed: acked"),
        (status = 404, description = "Not a subscription of this service", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The message cannot be processed; left to the dead-letter policy", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Processing failed (its batch did not commit); Pub/Sub redelivers", body = Problem, content_type = "application/problem+json")))]
async fn receive(
    State(state): State<PushState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<StatusCode> {
    if let Some(verifier) = &state.verifier {
        authenticate(verifier, &headers).await?;
    }
    let request: PushRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a Pub/Sub push request: {e}")))?;
    let unknown = || {
        ApiError::NotFound(format!(
            "this service does not consume {}",
            request.subscription
        ))
    };
    if !state.gatherer.consumes(&request.subscription) {
        return Err(unknown());
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(request.message.data.as_bytes())
        .map_err(|e| ApiError::BadRequest(format!("message data is not base64: {e}")))?;
    let message = Pushed {
        message_id: request.message.message_id,
        attributes: request.message.attributes,
        data,
        attempt: request.delivery_attempt,
    };
    let outcome = state.gatherer.deliver(&request.subscription, message).await;
    match outcome.ok_or_else(unknown)? {
        Outcome::Processed | Outcome::Duplicate => Ok(StatusCode::NO_CONTENT),
        // Non-2xx is a nack: Pub/Sub retries with backoff, then dead-letters.
        Outcome::Rejected => Err(ApiError::Unprocessable(
            "the message cannot be processed; it is left to the dead-letter policy".into(),
        )),
        Outcome::Failed => Err(ApiError::Unavailable {
            detail: "processing failed; Pub/Sub will redeliver".into(),
            retry_after: None,
        }),
    }
}

/// Checks the bearer token; every failure is a 401 that says why (the reason names
/// the claim, never the token).
async fn authenticate(verifier: &PushVerifier, headers: &HeaderMap) -> ApiResult<()> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("a Bearer token from Pub/Sub is required".into()))?;
    let refuse = |reason: String| {
        tracing::warn!(%reason, "push request refused: invalid token");
        ApiError::Unauthorized(format!("invalid push token: {reason}"))
    };
    let claims = verifier
        .token
        .verify(token.trim())
        .await
        .map_err(|e| match e {
            TokenError::Invalid(reason) | TokenError::KeysUnavailable(reason) => refuse(reason),
        })?;
    let email = claims.get("email").and_then(|v| v.as_str());
    let verified = claims.get("email_verified").and_then(|v| v.as_bool()) == Some(true);
    if email != Some(verifier.service_account.as_str()) || !verified {
        return Err(refuse("signed for another service account".into()));
    }
    Ok(())
}

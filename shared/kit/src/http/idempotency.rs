//! `Idempotency-Key` on every `POST` of a service's own routes (SPEC, "API
//! conventions"; the IETF httpapi draft `draft-ietf-httpapi-idempotency-key-header`):
//! a client that timed out retries with the same key and gets the first answer, and the
//! change is made once.
//!
//! - The same caller, key and request (method, path, query and body) again: the stored
//!   answer, marked `Idempotent-Replayed: true`, for a day ([`IDEMPOTENCY_WINDOW`]; the
//!   retention worker removes older keys).
//! - The same key with another request: 422. While the first is still in flight: 409.
//! - An answer of 5xx or 429 is not kept (nothing was changed; a retry runs again).
//! - Keys are per caller (the verified customer, staff, or anonymous), so one caller's
//!   key never answers another.
//!
//! The key is claimed in a transaction of its own before the route runs and the answer
//! stored after it. A crash in between leaves the key claimed until `locked_until`
//! (a minute); a retry after that runs the route again, which the routes' own checks
//! make safe (a second convert of the same cart is a 409, a second cancel too).
//!
//! Written here rather than taken from a crate: the maintained ones (e.g. for tower)
//! keep answers in memory, which neither survives a restart nor spans instances.

use super::ApiError;
use crate::auth::Authenticator;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cartflow_messaging::retention::IDEMPOTENCY_WINDOW;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::time::Duration;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// How long an unanswered claim holds before a retry may take it over.
const CLAIM: Duration = Duration::from_secs(60);
/// The longest key taken (the draft leaves it to the server).
const MAX_KEY_LEN: usize = 255;

/// What the middleware needs: the service's database and its body limit.
#[derive(Clone)]
pub struct Idempotency {
    pub pool: PgPool,
    pub body_limit: usize,
}

/// The middleware, on the service's own routes (inside sign-in's extension).
pub async fn honour(
    State(state): State<Idempotency>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(key) = request.headers().get(HEADER) else {
        return Ok(next.run(request).await);
    };
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "Idempotency-Key",
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters"),
            )
        })?;
    let authenticator = request.extensions().get::<Authenticator>().cloned();
    let caller = caller_of(authenticator, request.headers().clone()).await;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, state.body_limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge("the body is over the limit".into()))?;
    let hash = fingerprint(&parts.method, parts.uri.path_and_query(), &body);

    match claim(&state.pool, &caller, &key, &hash).await? {
        Claim::First => {}
        Claim::Replay(stored) => return Ok(stored.into_response()),
        Claim::OtherRequest => {
            return Err(ApiError::invalid_field(
                "Idempotency-Key",
                "this Idempotency-Key was used with another request; use a new key for a new request",
            ));
        }
        Claim::InFlight => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still in flight; retry once it has been answered".into(),
            ));
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        release(&state.pool, &caller, &key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading the answer: {e}")))?;
    store(&state.pool, &caller, &key, status, &parts.headers, &body).await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Who is asking, as sign-in verifies it (a caller it refuses is answered by the
/// route's own sign-in check; such requests share the anonymous scope meanwhile).
async fn caller_of(authenticator: Option<Authenticator>, headers: HeaderMap) -> String {
    let Some(authenticator) = authenticator else {
        return "anonymous".into();
    };
    match authenticator.authenticate(&headers).await {
        Ok(Some(sign_in)) => format!("{:?}", sign_in.caller),
        _ => "anonymous".into(),
    }
}

fn fingerprint(
    method: &Method,
    target: Option<&axum::http::uri::PathAndQuery>,
    body: &[u8],
) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update([0]);
    hash.update(target.map(|t| t.as_str()).unwrap_or(""));
    hash.update([0]);
    hash.update(body);
    hash.finalize().to_vec()
}

enum Claim {
    First,
    Replay(Stored),
    OtherRequest,
    InFlight,
}

struct Stored {
    status: StatusCode,
    content_type: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

impl IntoResponse for Stored {
    fn into_response(self) -> Response {
        let mut response = (self.status, Bytes::from(self.body)).into_response();
        let headers = response.headers_mut();
        for (name, value) in [
            (header::CONTENT_TYPE, self.content_type),
            (header::LOCATION, self.location),
        ] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, value);
            }
        }
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
        response
    }
}

type Row = (
    Vec<u8>,
    Option<i16>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    bool,
);

/// Claims the key for this request, or says why not.
async fn claim(pool: &PgPool, caller: &str, key: &str, hash: &[u8]) -> sqlx::Result<Claim> {
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (caller, key, request_hash, locked_until)
         VALUES ($1, $2, $3, now() + $4::interval)
         ON CONFLICT (caller, key) DO NOTHING",
    )
    .bind(caller)
    .bind(key)
    .bind(hash)
    .bind(CLAIM)
    .execute(pool)
    .await?
    .rows_affected();
    if claimed == 1 {
        return Ok(Claim::First);
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT request_hash, status, content_type, location, body, locked_until < now()
         FROM idempotency_keys WHERE caller = $1 AND key = $2",
    )
    .bind(caller)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let Some((stored_hash, status, content_type, location, body, lapsed)) = row else {
        // Released (a failed first try) between the two statements: claim it afresh.
        return Box::pin(claim(pool, caller, key, hash)).await;
    };
    if stored_hash != hash {
        return Ok(Claim::OtherRequest);
    }
    if let Some(status) = status {
        return Ok(Claim::Replay(Stored {
            status: StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK),
            content_type,
            location,
            body: body.unwrap_or_default(),
        }));
    }
    if !lapsed {
        return Ok(Claim::InFlight);
    }
    // The first try never answered (its instance died): this one takes over.
    let taken = sqlx::query(
        "UPDATE idempotency_keys SET locked_until = now() + $3::interval
         WHERE caller = $1 AND key = $2 AND status IS NULL AND locked_until < now()",
    )
    .bind(caller)
    .bind(key)
    .bind(CLAIM)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(if taken == 1 {
        Claim::First
    } else {
        Claim::InFlight
    })
}

async fn release(pool: &PgPool, caller: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND status IS NULL")
        .bind(caller)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

async fn store(
    pool: &PgPool,
    caller: &str,
    key: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> sqlx::Result<()> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, location = $5, body = $6
         WHERE caller = $1 AND key = $2",
    )
    .bind(caller)
    .bind(key)
    .bind(status.as_u16() as i16)
    .bind(text(header::CONTENT_TYPE))
    .bind(text(header::LOCATION))
    .bind(body)
    .execute(pool)
    .await?;
    Ok(())
}

/// How long answers are kept, for the description and the docs.
pub fn window() -> Duration {
    IDEMPOTENCY_WINDOW
}

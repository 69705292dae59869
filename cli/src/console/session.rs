//! Operator sign-in for the dead-letter page. The operator gives the admin token and
//! a name once; the console checks the token with a service, keeps it in this
//! process's memory only, and hands the browser an opaque session id in an
//! `HttpOnly`, `SameSite=Strict` cookie. The token itself never reaches a URL, the
//! page's script or the browser's storage.

use super::Console;
use super::services::{Caller, TIMEOUT};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cartflow_events::Service;
use cartflow_kit::http::{ApiError, ApiJson, ApiResult};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

const COOKIE: &str = "cartflow_console";
/// A session ends this long after sign-in.
const LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(8);

pub fn router() -> Router<Console> {
    Router::new().route("/api/session", post(sign_in).get(whoami).delete(sign_out))
}

#[derive(Clone)]
pub struct Operator {
    pub name: String,
    pub token: String,
    pub since: DateTime<Utc>,
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<Uuid, Operator>>,
}

impl Sessions {
    fn start(&self, operator: Operator) -> Uuid {
        let id = Uuid::new_v4();
        self.by_id
            .lock()
            .expect("sessions poisoned")
            .insert(id, operator);
        id
    }

    fn end(&self, id: Uuid) {
        self.by_id.lock().expect("sessions poisoned").remove(&id);
    }

    /// The signed-in operator of this request, or the 401 the page shows.
    pub fn operator(&self, headers: &HeaderMap) -> ApiResult<Operator> {
        let expired = |o: &Operator| Utc::now() - o.since > LIFETIME;
        let mut sessions = self.by_id.lock().expect("sessions poisoned");
        sessions.retain(|_, o| !expired(o));
        session_id(headers)
            .and_then(|id| sessions.get(&id).cloned())
            .ok_or_else(|| {
                ApiError::Unauthorized("sign in with the admin token (ADMIN_TOKEN) first".into())
            })
    }
}

fn session_id(headers: &HeaderMap) -> Option<Uuid> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .and_then(|c| c.value().parse().ok())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
    operator: String,
}

async fn sign_in(
    State(console): State<Console>,
    ApiJson(body): ApiJson<SignIn>,
) -> ApiResult<Response> {
    let operator = body.operator.trim();
    if operator.is_empty() || operator.chars().count() > 60 {
        return Err(ApiError::Unprocessable(
            "say who you are (1 to 60 characters): replays are logged with your name".into(),
        ));
    }
    let token = body.token.trim();
    if token.is_empty() {
        return Err(ApiError::Unprocessable("the admin token is empty".into()));
    }
    check_token(&console, token).await?;
    let id = console.inner.sessions.start(Operator {
        name: operator.to_string(),
        token: token.to_string(),
        since: Utc::now(),
    });
    tracing::info!(operator, "operator signed in to the console");
    let cookie = cookie::Cookie::build((COOKIE, id.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::hours(LIFETIME.num_hours()))
        .build();
    Ok(with_cookie(
        json!({ "operator": operator }),
        &cookie.to_string(),
    ))
}

fn with_cookie(body: Value, cookie: &str) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(cookie).expect("a cookie is a header value"),
    );
    response
}

/// Asks order to dry-run a replay of nothing: the token is right if the admin route
/// lets the call in. Changes nothing anywhere.
async fn check_token(console: &Console, token: &str) -> ApiResult<()> {
    let probe = json!({ "event_ids": [Uuid::nil()], "dry_run": true });
    let reply = console
        .inner
        .services
        .call(
            reqwest::Method::POST,
            Service::Order,
            "/admin/events/replay",
            Caller::Admin(token),
            Some(&probe),
            TIMEOUT,
        )
        .await?;
    match reply.status.as_u16() {
        200 => Ok(()),
        401 => Err(ApiError::Unauthorized(format!(
            "the admin token was refused: {}",
            reply.detail()
        ))),
        _ => Err(ApiError::Unavailable {
            detail: format!("order could not check the token: {}", reply.detail()),
            retry_after: None,
        }),
    }
}

async fn whoami(State(console): State<Console>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let operator = console.inner.sessions.operator(&headers)?;
    Ok(Json(
        json!({ "operator": operator.name, "since": operator.since }),
    ))
}

async fn sign_out(State(console): State<Console>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers) {
        console.inner.sessions.end(id);
    }
    let gone = format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    with_cookie(json!({ "signed_out": true }), &gone)
}

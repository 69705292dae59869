//! Operator sign-in for the dead-letter page. Who the operator is comes from what they
//! signed in with, never from a name they type ([`Operators`]):
//! - a console of one's own (the default): its operator is whoever started it
//!   (`CONSOLE_OPERATOR`, else the OS user), who signs in with the services' admin
//!   token;
//! - a shared console (`CONSOLE_OPERATORS`): each operator signs in with their name and
//!   personal token, and the console itself holds the admin token (`ADMIN_TOKEN`),
//!   which no operator then needs to know.
//!
//! The console checks the admin token with a service, keeps it in this process's
//! memory only, and hands the browser an opaque session id in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` when served over https). The token itself never
//! reaches a URL, the page's script or the browser's storage. Replays are logged with
//! the signed-in operator.

use super::Console;
use super::services::{Caller, TIMEOUT};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cartflow_events::Service;
use cartflow_kit::http::admin::same_secret;
use cartflow_kit::http::{ApiError, ApiJson, ApiResult};
use cartflow_kit::redact::REDACTED;
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

/// Who may sign in as an operator.
#[derive(Clone)]
pub enum Operators {
    /// A console of one's own: its one operator, named when it started, signs in with
    /// the services' admin token.
    Local(String),
    /// Named operators with personal tokens; the console holds the admin token.
    Accounts {
        admin_token: String,
        /// `(name, personal token)`.
        accounts: Vec<(String, String)>,
    },
}

/// Names and whether tokens are set; never the tokens.
impl std::fmt::Debug for Operators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operators::Local(name) => f.debug_tuple("Local").field(name).finish(),
            Operators::Accounts {
                accounts,
                admin_token: _,
            } => f
                .debug_struct("Accounts")
                .field("admin_token", &REDACTED)
                .field(
                    "accounts",
                    &accounts
                        .iter()
                        .map(|(name, _)| (name.as_str(), REDACTED))
                        .collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

impl Operators {
    /// The console's own operator: `CONSOLE_OPERATOR`, else the OS user who started it.
    pub fn local_from_env() -> Operators {
        let name = ["CONSOLE_OPERATOR", "USER", "USERNAME"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
            .unwrap_or_else(|| "operator".into());
        Operators::Local(name.trim().to_string())
    }

    /// Parses `name=token` accounts (`CONSOLE_OPERATORS`); each token at least 16
    /// characters. Errors name the account, never the token.
    pub fn accounts(admin_token: Option<String>, raw: &[String]) -> Result<Operators, String> {
        let admin_token = admin_token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or("CONSOLE_OPERATORS needs ADMIN_TOKEN: the console calls the services with it")?;
        let mut accounts = Vec::new();
        for entry in raw.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let Some((name, token)) = entry.split_once('=') else {
                return Err("CONSOLE_OPERATORS: expected name=token pairs".into());
            };
            let (name, token) = (name.trim(), token.trim());
            if name.is_empty() || name.chars().count() > 60 || token.chars().count() < 16 {
                return Err(format!(
                    "CONSOLE_OPERATORS: the account '{name}' needs a name of 1 to 60 \
                     characters and a token of at least 16"
                ));
            }
            accounts.push((name.to_string(), token.to_string()));
        }
        if accounts.is_empty() {
            return Err("CONSOLE_OPERATORS: no account given".into());
        }
        Ok(Operators::Accounts {
            admin_token,
            accounts,
        })
    }
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

/// `token`: the admin token on a console of one's own, the operator's personal token
/// on a shared one. `operator`: the account's name (a shared console); on a console of
/// one's own it may be left out, and must be its operator's name if given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
    #[serde(default)]
    operator: Option<String>,
}

async fn sign_in(
    State(console): State<Console>,
    ApiJson(body): ApiJson<SignIn>,
) -> ApiResult<Response> {
    let token = body.token.trim();
    if token.is_empty() {
        return Err(ApiError::Unprocessable("the token is empty".into()));
    }
    let claimed = body.operator.as_deref().map(str::trim).unwrap_or("");
    let (name, admin_token) = match &console.inner.settings.operators {
        Operators::Local(name) => {
            if !claimed.is_empty() && claimed != name.as_str() {
                return Err(ApiError::Unauthorized(format!(
                    "this console's operator is {name}; sign in as {name} or leave the name empty"
                )));
            }
            (name.clone(), token.to_string())
        }
        Operators::Accounts {
            admin_token,
            accounts,
        } => {
            // Every account's token is compared, so timing tells nothing of which matched.
            let matched = accounts.iter().fold(None, |found, (name, own)| {
                let this = same_secret(token, own) && name.as_str() == claimed;
                found.or(this.then(|| name.clone()))
            });
            let name = matched.ok_or_else(|| {
                ApiError::Unauthorized("the operator's name or token was refused".into())
            })?;
            (name, admin_token.clone())
        }
    };
    check_token(&console, &admin_token).await?;
    let id = console.inner.sessions.start(Operator {
        name: name.clone(),
        token: admin_token,
        since: Utc::now(),
    });
    tracing::info!(operator = %name, "operator signed in to the console");
    let cookie = cookie::Cookie::build((COOKIE, id.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(console.over_https())
        .path("/")
        .max_age(cookie::time::Duration::hours(LIFETIME.num_hours()))
        .build();
    Ok(with_cookie(
        json!({ "operator": name }),
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
    let secure = if console.over_https() { "; Secure" } else { "" };
    let gone = format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}");
    with_cookie(json!({ "signed_out": true }), &gone)
}

//! The console's calls to the services, as a client of their HTTP APIs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cartflow_client::{as_customer, as_staff};
use cartflow_events::Service;
use cartflow_kit::http::ApiError;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// Who the console calls as. Locally (`AUTH_MODE=header`) a caller is a header; the
/// admin routes take the operator's bearer token.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Public,
    Staff,
    Customer(Uuid),
    Admin(&'a str),
}

/// A service's answer, passed on as it came: a refusal keeps its problem details.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body of a successful answer; a refusal becomes the console's error.
    pub fn into_ok(self) -> Result<Value, Reply> {
        if self.is_success() {
            Ok(self.body)
        } else {
            Err(self)
        }
    }

    /// A successful answer's body changed by `f`; a refusal as it was.
    pub fn map_ok(self, f: impl FnOnce(Value) -> Value) -> Reply {
        if self.is_success() {
            Reply {
                status: self.status,
                body: f(self.body),
            }
        } else {
            self
        }
    }

    /// The `detail` of a problem answer.
    pub fn detail(&self) -> String {
        self.body["detail"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("answered {}", self.status))
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let failed = !self.status.is_success();
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if failed {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
        }
        response
    }
}

#[derive(Clone)]
pub struct Services {
    http: reqwest::Client,
    urls: BTreeMap<Service, String>,
}

impl Services {
    pub fn new(urls: BTreeMap<Service, String>) -> Services {
        Services {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .build()
                .expect("an HTTP client"),
            urls,
        }
    }

    pub fn url(&self, service: Service) -> &str {
        self.urls.get(&service).map(String::as_str).unwrap_or("")
    }

    /// Calls `service` and returns its answer, whatever its status. A service that does
    /// not answer within `timeout` is the console's 503, naming it.
    pub async fn call(
        &self,
        method: Method,
        service: Service,
        path: &str,
        caller: Caller<'_>,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let url = format!("{}{path}", self.url(service));
        let mut request = self.http.request(method, &url).timeout(timeout);
        request = match caller {
            Caller::Public => request,
            Caller::Staff => as_staff(request),
            Caller::Customer(id) => as_customer(request, id),
            Caller::Admin(token) => request.bearer_auth(token),
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        let unavailable = |err: reqwest::Error| ApiError::Unavailable {
            detail: format!("{service} ({url}) did not answer: {err}"),
            retry_after: None,
        };
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let text = response.text().await.map_err(unavailable)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply { status, body })
    }

    /// A GET with the usual short timeout.
    pub async fn get(
        &self,
        service: Service,
        path: &str,
        caller: Caller<'_>,
    ) -> Result<Reply, ApiError> {
        self.call(Method::GET, service, path, caller, None, TIMEOUT)
            .await
    }

    /// Every item of the list at `path` (which may carry filters), walking its pages:
    /// an answer whose body is the items as one array, or the first refusal.
    pub async fn get_all(
        &self,
        service: Service,
        path: &str,
        caller: Caller<'_>,
    ) -> Result<Reply, ApiError> {
        let joiner = if path.contains('?') { '&' } else { '?' };
        let (mut items, mut token) = (Vec::new(), None::<String>);
        loop {
            let mut page = format!("{path}{joiner}page_size=500");
            if let Some(token) = &token {
                page.push_str(&format!("&page_token={token}"));
            }
            let reply = self.get(service, &page, caller).await?;
            if !reply.is_success() {
                return Ok(reply);
            }
            if let Some(more) = reply.body["items"].as_array() {
                items.extend(more.iter().cloned());
            }
            match reply.body["next_page_token"].as_str() {
                Some(next) => token = Some(next.to_string()),
                None => {
                    return Ok(Reply {
                        status: reply.status,
                        body: Value::Array(items),
                    });
                }
            }
        }
    }

    /// Plain text of `path` (the metrics), or why not.
    pub async fn text(&self, service: Service, path: &str) -> Result<String, String> {
        let url = format!("{}{path}", self.url(service));
        let response = self
            .http
            .get(&url)
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(format!(
                "{status}: {}",
                text.chars().take(200).collect::<String>()
            ))
        }
    }

    /// Any URL (the mail catcher's view), as JSON.
    pub async fn get_url(&self, url: &str) -> Result<Value, ApiError> {
        let unavailable = |err: reqwest::Error| ApiError::Unavailable {
            detail: format!("{url} did not answer: {err}"),
            retry_after: None,
        };
        self.http
            .get(url)
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)
    }
}

/// How long an ordinary call may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

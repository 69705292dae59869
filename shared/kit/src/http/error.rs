//! One error type for every route, rendered as RFC 9457 `application/problem+json`.
//! Internal errors are logged with their cause chain and never leaked to the client.
//! Every problem names its request in `instance` (the request id, also on the
//! request's span and in its logs); a 422 lists what failed in `errors`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    /// One named field failed its check (a 422 that says which, as a JSON pointer).
    #[error("{detail}")]
    InvalidField { field: String, detail: String },
    /// Missing or invalid credentials; answered with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// A known caller without the right.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A dependency is down; `retry_after` seconds is a hint for the client.
    #[error("{detail}")]
    Unavailable {
        detail: String,
        retry_after: Option<u64>,
    },
    /// Over the rate limit; answered with `Retry-After`.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) | ApiError::InvalidField { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unprocessable(_) | ApiError::InvalidField { .. } => "validation-failed",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::Unavailable { .. } => "dependency-unavailable",
            ApiError::TooManyRequests { .. } => "rate-limited",
            ApiError::Internal(_) => "internal-error",
        }
    }
}

impl ApiError {
    /// A 422 for `field` (a body field, a path or query parameter).
    pub fn invalid_field(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::InvalidField {
            field: field.to_string(),
            detail: detail.into(),
        }
    }

    /// What failed, for a 422's `errors`: the field as a JSON pointer where known.
    fn field_errors(&self) -> Option<Vec<FieldError>> {
        match self {
            ApiError::InvalidField { field, detail } => Some(vec![FieldError {
                pointer: Some(format!("/{}", field.replace('.', "/"))),
                detail: detail.clone(),
            }]),
            ApiError::Unprocessable(detail) => Some(vec![FieldError {
                pointer: None,
                detail: detail.clone(),
            }]),
            _ => None,
        }
    }
}

/// The body of every error answer (RFC 9457), as the OpenAPI description shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "urn:cartflow:problem:not-found",
    "title": "Not Found",
    "status": 404,
    "detail": "no order with id 0b0c…",
    "instance": "urn:cartflow:request:6f1d2a8e-5a7c-4d3e-9a51-3c2f6b1e0d47"
}))]
pub struct Problem {
    /// `urn:cartflow:problem:<kind>`; the kind is stable, the detail is for people.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request, as its id (`urn:cartflow:request:<x-request-id>`); the same id is
    /// on the request's logs and trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// On a 422: each check that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// One failed check of a 422.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a JSON pointer into the body (or the parameter's name), when
    /// one field is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    pub detail: String,
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::Internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed");
                "An unexpected error occurred; it has been logged.".to_string()
            }
            other => other.to_string(),
        };
        let body = Problem {
            kind: format!("urn:cartflow:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            instance: super::request_id::current().map(|id| format!("urn:cartflow:request:{id}")),
            errors: self.field_errors(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::Unauthorized(_) = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::Unavailable {
            retry_after: Some(secs),
            ..
        } = self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let ApiError::TooManyRequests { retry_after, .. } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

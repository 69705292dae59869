//! Extractors that turn every rejection into a problem+json [`ApiError`] with the
//! right status: 415 wrong content type, 400 malformed JSON, 422 wrong shape,
//! 413 body over the limit, 400 bad path or query parameter.

use super::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// `axum::Json` with problem+json rejections.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// The raw body (`Bytes`) with problem+json rejections: 413 over the body limit.
#[derive(Debug)]
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Ok(ApiBytes(Bytes::from_request(request, state).await?))
    }
}

/// `axum::extract::Path` with problem+json rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` with problem+json rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let detail = rejection.body_text();
        match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                "expected a request body with Content-Type: application/json".into(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(detail),
            StatusCode::UNPROCESSABLE_ENTITY => body_field_error(&detail),
            _ => ApiError::BadRequest(detail),
        }
    }
}

/// A 422 naming the body field to blame, read from axum's message: serde_path_to_error
/// puts the field's path first (`items[0].quantity: invalid type: …`), and a missing
/// field is named in backquotes.
fn body_field_error(detail: &str) -> ApiError {
    let inner = detail
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(detail);
    if let Some((path, why)) = inner.split_once(": ")
        && !path.is_empty()
        && !path.contains(' ')
    {
        let field = path.replace('[', ".").replace(']', "");
        return ApiError::invalid_field(&field, why);
    }
    if let Some(rest) = inner.split_once("missing field `").map(|(_, rest)| rest)
        && let Some((field, _)) = rest.split_once('`')
    {
        return ApiError::invalid_field(field, inner);
    }
    ApiError::Unprocessable(detail.to_string())
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(rejection.body_text()),
            _ => ApiError::BadRequest(rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// A JSON body that may be absent: an empty body gives `T::default()`; a non-empty one
/// must be valid JSON with the JSON content type, exactly as with [`ApiJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = Bytes::from_request(req, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "expected a request body with Content-Type: application/json".into(),
            ));
        }
        match serde_json::from_slice(&body) {
            Ok(value) => Ok(OptionalJson(value)),
            Err(err) if err.is_data() => Err(body_field_error(&err.to_string())),
            Err(err) => Err(ApiError::BadRequest(err.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer(err: ApiError) -> Option<String> {
        match err {
            ApiError::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    #[test]
    fn a_422_names_the_body_field_to_blame() {
        let prefix = "Failed to deserialize the JSON body into the target type: ";
        let nested = format!("{prefix}items[0].quantity: invalid type: string \"x\", expected i32");
        assert_eq!(
            pointer(body_field_error(&nested)).as_deref(),
            Some("items.0.quantity")
        );
        let missing = format!("{prefix}missing field `payment_method` at line 1 column 2");
        assert_eq!(
            pointer(body_field_error(&missing)).as_deref(),
            Some("payment_method")
        );
        let whole = format!("{prefix}invalid type: integer `3`, expected a map");
        assert_eq!(pointer(body_field_error(&whole)), None);
    }
}

//! Each request's id: the caller's `x-request-id` when it sent a sensible one (a load
//! balancer's), otherwise a new UUID. It is answered in `x-request-id`, recorded on the
//! request's span (so every log line of the request carries it), and named in the
//! `instance` of any problem the request ends in.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, inside its handler and extractors.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An id from outside is kept only when short and plain, so it cannot forge log lines.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The middleware: on every route, inside the request's span.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    tracing::Span::current().record("request_id", id.as_str());
    let value = HeaderValue::from_str(&id).expect("an acceptable id is a header value");
    request.headers_mut().insert(HEADER, value.clone());
    let mut response = REQUEST_ID.scope(id, next.run(request)).await;
    response.headers_mut().insert(HEADER, value);
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_plain_ids_are_taken_from_the_caller() {
        assert!(acceptable("6f1d2a8e-5a7c-4d3e-9a51-3c2f6b1e0d47"));
        assert!(acceptable("lb.abc_123:7"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("x\r\ninjected: yes"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}

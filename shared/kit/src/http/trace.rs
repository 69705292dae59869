//! The span of each HTTP request: while traces are exported, a server span that
//! continues the caller's `traceparent` header, named by its route once routing has
//! matched it (see [`crate::metrics::record_http`]); otherwise tower-http's debug span.

use axum::http::{Request, Response};
use cartflow_events::Service;
use cartflow_messaging::trace_context;
use std::time::Duration;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

/// tower-http's trace layer with cartflow's request span.
pub fn layer(
    service: Service,
) -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    tower_http::trace::DefaultOnRequest,
    StatusOnSpan,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan(service))
        .on_response(StatusOnSpan)
}

#[derive(Clone, Copy)]
pub struct RequestSpan(Service);

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let method = request.method();
        let path = request.uri().path();
        if !trace_context::enabled() {
            return tracing::debug_span!("request", %method, uri = %request.uri(),
                request_id = tracing::field::Empty);
        }
        let span = tracing::info_span!("http",
            service = %self.0,
            otel.name = format!("{method} {path}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.request.method = %method,
            url.path = path,
            http.route = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            request_id = tracing::field::Empty);
        let parent = request
            .headers()
            .get(trace_context::TRACEPARENT)
            .and_then(|value| value.to_str().ok());
        trace_context::set_parent(&span, parent);
        span
    }
}

/// Records the status on the request span (an error status for a 5xx).
#[derive(Clone, Copy)]
pub struct StatusOnSpan;

impl<B> OnResponse<B> for StatusOnSpan {
    fn on_response(self, response: &Response<B>, _latency: Duration, span: &Span) {
        if !trace_context::enabled() {
            return;
        }
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
}

//! Prometheus metrics: `GET /metrics` on every service, from the `metrics` facade and
//! `metrics-exporter-prometheus` (no hand-written exposition format).
//!
//! The recorder is process-wide, so every series carries a `service` label: one
//! process per service in production, and the in-process platform (`cartflow dev`,
//! tests) still tells its services apart. Labels are bounded: routes are the matched
//! templates (`/orders/{id}`), never ids. docs/observability.md lists every metric.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use cartflow_events::Service;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Latency buckets, in seconds: a checkout hop takes milliseconds; a retried one, seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// How often histograms are compacted, and the outbox sampled.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once per process (later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("non-empty buckets")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread");
            handle
        })
        .clone()
}

/// `GET /metrics`, in the Prometheus text format.
pub fn router() -> crate::http::openapi::ApiRouter {
    install();
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(scrape))
}

/// The service's metrics, for Prometheus to scrape.
#[utoipa::path(get, path = "/metrics", tag = "probes",
    responses((status = 200, description = "Every metric, in the Prometheus text format", body = String, content_type = "text/plain")))]
async fn scrape() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        install().render(),
    )
        .into_response()
}

/// Counts and times every request by route template, method and status.
pub fn record_http(router: Router, service: Service) -> Router {
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        time_request(service, request, next)
    }))
}

async fn time_request(service: Service, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().as_str().to_string();
    if cartflow_messaging::trace_context::enabled() {
        let span = tracing::Span::current();
        span.record("http.route", route.as_str());
        span.record("otel.name", format!("{method} {route}"));
    }
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("service", service.name().to_string()),
        ("route", route),
        ("method", method),
    ];
    metrics::histogram!("cartflow_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    let mut with_status = labels.to_vec();
    with_status.push(("status", status));
    metrics::counter!("cartflow_http_requests_total", &with_status).increment(1);
    response
}

/// Samples the outbox until `stop`: rows waiting to be published and the age of the
/// oldest (what a stuck relay looks like).
pub async fn sample_outbox(pool: PgPool, service: Service, stop: CancellationToken) {
    let labels = [("service", service.name())];
    let waiting = metrics::gauge!("cartflow_outbox_waiting", &labels);
    let oldest = metrics::gauge!("cartflow_outbox_oldest_waiting_seconds", &labels);
    loop {
        let sampled: sqlx::Result<(i64, f64)> = sqlx::query_as(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&pool)
        .await;
        match sampled {
            Ok((count, age)) => {
                waiting.set(count as f64);
                oldest.set(age.max(0.0));
            }
            Err(err) => tracing::debug!(error = %err, "outbox sample failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(UPKEEP_EVERY) => {}
        }
    }
}

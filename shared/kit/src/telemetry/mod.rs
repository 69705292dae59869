//! Logging and tracing set-up: human-readable lines locally, JSON lines in production,
//! and OpenTelemetry spans exported over OTLP/HTTP when an endpoint is configured.
//!
//! The JSON format is Cloud Logging's structured-log shape: one object per line with
//! `severity` (which Cloud Logging maps to its levels), `time`, `message`, and the
//! event's and enclosing spans' fields (`event_id`, `correlation_id`, …) at top level,
//! so a saga can be followed with a single filter in the Logs Explorer. While traces
//! are exported, each line also names its trace (`logging.googleapis.com/trace`), so
//! the Logs Explorer links a log line to its trace.
//!
//! Tracing follows the standard OpenTelemetry variables: `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns export on, `OTEL_TRACES_SAMPLER` /
//! `OTEL_TRACES_SAMPLER_ARG` choose the sampling (the SDK reads them), `OTEL_SERVICE_NAME`
//! overrides the service name. Unset, no exporter runs and no trace context is written.

mod cloud_logging;
mod settings;

pub use cloud_logging::CloudLoggingJson;
pub use settings::TracingSettings;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

const DEFAULT_FILTER: &str = "info,sqlx=warn,google_cloud_pubsub=warn";
/// What becomes a span in a trace: cartflow's own, at info and above; the SDKs' and
/// the exporter's own are left out (a span per gRPC frame would drown the saga).
const TRACE_FILTER: &str = "info,google_cloud=off,sqlx=off,h2=off,hyper=off,reqwest=off,tower=off,opentelemetry=off,lettre=off";

/// The exporting tracer provider, kept to flush and shut it down.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber once; later calls are no-ops (tests start many apps).
/// `LOG_FORMAT=json` selects JSON; `RUST_LOG` filters (default `info`); the
/// OpenTelemetry variables turn on trace export for `service_name` (see the module
/// docs). A tracing variable with a bad value is an error, for the caller to name.
pub fn init(service_name: &str) -> Result<(), String> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.into());
    let tracing = TracingSettings::from_env(service_name, |name| std::env::var(name).ok())?;
    install(&filter, tracing).map_err(|err| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {err}"))
}

/// Logs only, with an explicit filter.
pub fn init_with(filter: &str) {
    let _ = install(filter, None);
}

/// Logs with `filter`, and spans exported as `tracing` says.
pub fn install(filter: &str, tracing: Option<TracingSettings>) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A log sink that goes away (a closed pipe) must not take the service down: by
    // default tracing-subscriber reports write failures with `eprintln!`, which panics
    // when stderr is that same closed pipe.
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .log_internal_errors(false);
    // `RUST_LOG` filters the log lines only: spans are exported at info and above
    // whatever the log level, so quiet logs do not break traces.
    let lines = if json {
        lines
            .fmt_fields(JsonFields::new())
            .event_format(CloudLoggingJson)
            .with_filter(filter)
            .boxed()
    } else {
        lines.compact().with_filter(filter).boxed()
    };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![lines];
    let exporting = match &tracing {
        Some(settings) => Some(tracer_provider(settings)?),
        None => None,
    };
    if let Some(provider) = &exporting {
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("cartflow"))
                .with_filter(EnvFilter::new(TRACE_FILTER))
                .boxed(),
        );
    }
    let installed = tracing_subscriber::registry().with(layers).try_init();
    if let (Ok(()), Some(provider), Some(settings)) = (installed, exporting, tracing) {
        let _ = PROVIDER.set(provider);
        if let Some(project) = settings.project_id {
            cloud_logging::name_project(project);
        }
        cartflow_messaging::trace_context::enable();
        ::tracing::info!(endpoint = %settings.traces_endpoint, service = %settings.service_name, "exporting traces over OTLP");
    }
    Ok(())
}

fn tracer_provider(settings: &TracingSettings) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(&settings.traces_endpoint)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    // The sampler comes from OTEL_TRACES_SAMPLER(_ARG), parent-based always-on by default.
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Exports every finished span now (tests; before a process exits).
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}

/// Flushes and stops the exporter; call once, as the process ends.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.shutdown();
    }
}

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

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::OnceLock;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

const DEFAULT_FILTER: &str = "info,sqlx=warn,google_cloud_pubsub=warn";
/// What becomes a span in a trace: cartflow's own, at info and above; the SDKs' and
/// the exporter's own are left out (a span per gRPC frame would drown the saga).
const TRACE_FILTER: &str = "info,google_cloud=off,sqlx=off,h2=off,hyper=off,reqwest=off,tower=off,opentelemetry=off,lettre=off";

/// Where and as whom spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingSettings {
    /// The OTLP/HTTP traces URL (`…/v1/traces`).
    pub traces_endpoint: String,
    pub service_name: String,
    /// The Google Cloud project, for the trace field of log lines.
    pub project_id: Option<String>,
}

impl TracingSettings {
    /// From the standard OpenTelemetry variables; `None` when no endpoint is set (or
    /// `OTEL_SDK_DISABLED=true`). A value the exporter could not honour is named.
    pub fn from_env(
        default_service_name: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let traces_endpoint = match (
            set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            set("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => traces,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        if !(traces_endpoint.starts_with("http://") || traces_endpoint.starts_with("https://")) {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT: '{traces_endpoint}' is not an http:// or https:// URL"
            ));
        }
        for name in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ] {
            if let Some(protocol) = set(name).filter(|p| p != "http/protobuf") {
                return Err(format!(
                    "{name}: '{protocol}' is not supported; cartflow exports OTLP as http/protobuf (port 4318)"
                ));
            }
        }
        if let Some(arg) = set("OTEL_TRACES_SAMPLER_ARG") {
            let ratio: f64 = arg.trim().parse().map_err(|_| {
                format!("OTEL_TRACES_SAMPLER_ARG: '{arg}' is not a number between 0 and 1")
            })?;
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!(
                    "OTEL_TRACES_SAMPLER_ARG: {ratio} is not between 0 and 1"
                ));
            }
        }
        Ok(Some(TracingSettings {
            traces_endpoint,
            service_name: set("OTEL_SERVICE_NAME").unwrap_or_else(|| default_service_name.into()),
            project_id: set("GOOGLE_CLOUD_PROJECT").or_else(|| set("PUBSUB_PROJECT_ID")),
        }))
    }
}

/// The exporting tracer provider, kept to flush and shut it down.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
/// The project named in log lines' trace field.
static PROJECT: OnceLock<String> = OnceLock::new();

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
            let _ = PROJECT.set(project);
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

/// Cloud Logging's trace fields for the span the event happens in, while spans are
/// traced: `projects/<project>/traces/<trace id>`, the span id, and whether sampled.
/// The OpenTelemetry layer makes an entered span's context the current one.
fn trace_fields(line: &mut Map<String, Value>) {
    let context = opentelemetry::Context::current();
    let span = context.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return;
    }
    let project = PROJECT.get().map_or("unknown", String::as_str);
    line.insert(
        "logging.googleapis.com/trace".into(),
        format!("projects/{project}/traces/{}", span_context.trace_id()).into(),
    );
    line.insert(
        "logging.googleapis.com/spanId".into(),
        span_context.span_id().to_string().into(),
    );
    line.insert(
        "logging.googleapis.com/trace_sampled".into(),
        span_context.is_sampled().into(),
    );
}

/// Cloud Logging's severity names for tracing's levels.
fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

/// Formats each event as one Cloud Logging JSON line.
pub struct CloudLoggingJson;

impl<S, N> FormatEvent<S, N> for CloudLoggingJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        // Outer spans first, so the innermost value of a repeated field wins.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(formatted) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(span_fields)) = serde_json::from_str(formatted.as_str()) {
                    fields.extend(span_fields);
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert("severity".into(), severity(metadata.level()).into());
        line.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
        line.insert(
            "message".into(),
            fields.remove("message").unwrap_or_default(),
        );
        line.insert("target".into(), metadata.target().into());
        trace_fields(&mut line);
        line.extend(fields);
        writeln!(writer, "{}", Value::Object(line))
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_name_their_trace_for_cloud_logging() {
        use opentelemetry_sdk::trace::SdkTracerProvider;
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || sink.clone())
                    .fmt_fields(JsonFields::new())
                    .event_format(CloudLoggingJson),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any span");
            let span = tracing::info_span!("consume");
            let _entered = span.enter();
            tracing::info!("inside");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            lines[0].get("logging.googleapis.com/trace").is_none(),
            "{text}"
        );
        let trace = lines[1]["logging.googleapis.com/trace"]
            .as_str()
            .expect(&text);
        let id = trace.strip_prefix("projects/unknown/traces/").expect(trace);
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()) && id != "0".repeat(32));
        assert_eq!(
            lines[1]["logging.googleapis.com/spanId"]
                .as_str()
                .map(str::len),
            Some(16)
        );
        assert_eq!(lines[1]["logging.googleapis.com/trace_sampled"], true);
    }

    #[test]
    fn tracing_settings_follow_the_standard_variables_and_name_bad_values() {
        let with = |vars: &'static [(&'static str, &'static str)]| {
            TracingSettings::from_env("order", move |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        assert_eq!(with(&[]), Ok(None), "unset: no export");
        let on = with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")])
            .unwrap()
            .unwrap();
        assert_eq!(on.traces_endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(on.service_name, "order");
        let own = with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/traces"),
            ("OTEL_SERVICE_NAME", "shop-order"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (own.traces_endpoint.as_str(), own.service_name.as_str()),
            ("http://b:4318/traces", "shop-order")
        );
        assert_eq!(
            with(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                ("OTEL_SDK_DISABLED", "true")
            ]),
            Ok(None)
        );
        for (bad, named) in [
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")][..],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ][..],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                    ("OTEL_TRACES_SAMPLER_ARG", "half"),
                ][..],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                ][..],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
        ] {
            let vars: &'static [(&str, &str)] = Box::leak(bad.to_vec().into_boxed_slice());
            let err = with(vars).unwrap_err();
            assert!(err.starts_with(named), "{err}");
        }
    }

    #[test]
    fn json_lines_carry_severity_message_and_span_fields() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .fmt_fields(JsonFields::new())
            .event_format(CloudLoggingJson)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("consume", correlation_id = "cart-7", attempt = 1);
            let _entered = span.enter();
            tracing::warn!(attempt = 2, error = %"boom", "processing failed");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).expect(&text);
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "processing failed");
        assert_eq!(line["correlation_id"], "cart-7");
        assert_eq!(line["error"], "boom");
        assert_eq!(
            line["attempt"], 2,
            "the event's own field wins over the span's"
        );
        assert!(line["time"].as_str().is_some_and(|t| t.contains('T')));
    }
}

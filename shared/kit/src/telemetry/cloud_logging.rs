//! Log lines in Cloud Logging's structured JSON shape, with the trace they belong to.

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::OnceLock;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The project named in log lines' trace field.
static PROJECT: OnceLock<String> = OnceLock::new();

/// Names the Google Cloud project in every later line's trace field (once).
pub(super) fn name_project(project: String) {
    let _ = PROJECT.set(project);
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
    use opentelemetry::trace::TracerProvider as _;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

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

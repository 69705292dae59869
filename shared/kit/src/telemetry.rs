//! Logging set-up: human-readable lines locally, JSON lines in production.
//!
//! The JSON format is Cloud Logging's structured-log shape: one object per line with
//! `severity` (which Cloud Logging maps to its levels), `time`, `message`, and the
//! event's and enclosing spans' fields (`event_id`, `correlation_id`, …) at top level,
//! so a saga can be followed with a single filter in the Logs Explorer.

use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

const DEFAULT_FILTER: &str = "info,sqlx=warn,google_cloud_pubsub=warn";

/// Installs the global subscriber once; later calls are no-ops (tests start many apps).
/// `LOG_FORMAT=json` selects JSON; `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.into());
    init_with(&filter);
}

/// As [`init`], with an explicit filter.
pub fn init_with(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A log sink that goes away (a closed pipe) must not take the service down: by
    // default tracing-subscriber reports write failures with `eprintln!`, which panics
    // when stderr is that same closed pipe.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .log_internal_errors(false);
    let _ = if json {
        builder
            .fmt_fields(JsonFields::new())
            .event_format(CloudLoggingJson)
            .try_init()
    } else {
        builder.compact().try_init()
    };
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

//! Trace context across Pub/Sub and the outbox, in W3C `traceparent` form.
//!
//! It travels in the message attribute Google's own Pub/Sub client libraries use,
//! [`ATTRIBUTE`], so traces join with services written against them. An event written
//! to the outbox keeps the context of the span that wrote it in its attributes (the
//! row's `attributes` column); the relay's publish span continues that trace and puts
//! its own context on the wire; the consumer's span is that span's child.
//!
//! All of it is skipped while tracing is off ([`enabled`]): no attribute is written,
//! no extra span opened, so a deployment without an exporter pays nothing.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The message attribute that carries the `traceparent` (declared with the other
/// attributes, in the events crate).
pub const ATTRIBUTE: &str = cartflow_events::envelope::TRACE_PARENT;

/// The W3C header a caller's context comes in over HTTP (and the propagator's key).
pub const TRACEPARENT: &str = "traceparent";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported; set once by whoever installs the exporter.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns the propagation on: called by the kit's telemetry once an exporter is in place.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// The `traceparent` of `span`, if tracing is on and the span has a valid context.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The `traceparent` of the current span (see [`traceparent_of`]).
pub fn current() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// Makes the remote context in `traceparent` the parent of `span`. Missing is fine
/// (another producer, a replay); malformed is ignored with a debug line, never an error.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.filter(|_| enabled()) else {
        return;
    };
    match parse(value) {
        Some(context) => {
            let _ = span.set_parent(context);
        }
        None => tracing::debug!(
            traceparent = value,
            "ignoring a malformed {ATTRIBUTE} attribute"
        ),
    }
}

/// The remote context of a well-formed `traceparent`, `None` otherwise.
pub fn parse(value: &str) -> Option<opentelemetry::Context> {
    let carrier = HashMap::from([(TRACEPARENT.to_string(), value.to_string())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_traceparent_parses_and_a_malformed_one_does_not() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse(good).expect("valid");
        let span = context.span();
        assert_eq!(
            span.span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(span.span_context().is_remote());
        for bad in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} should not parse");
        }
    }
}

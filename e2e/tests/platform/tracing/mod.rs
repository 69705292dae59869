//! OpenTelemetry: one checkout is one trace, from `POST /cart/convert-to-order` through
//! every service and Pub/Sub hop to the email handed to SMTP. The services export over
//! OTLP/HTTP to a real receiver this test serves on loopback, which decodes what
//! arrives with the OTLP protobuf definitions.
//!
//! The exporter is process-wide: each test here installs it first thing (nextest runs
//! every test in a process of its own).
//!
//! This module holds the receiver; the tests are in `checkout` (one checkout, one trace)
//! and `traceparent` (messages without one, or with a malformed one).

mod checkout;
mod traceparent;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use cartflow_kit::telemetry::{self, TracingSettings};
use cartflow_messaging::trace_context;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use reqwest::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A received span, with what the assertions need.
#[derive(Debug, Clone)]
struct Received {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    /// `server`, `consumer`, `producer`, `client` or `internal`.
    kind: &'static str,
    attributes: HashMap<String, String>,
    /// The exporting process's `service.name`.
    resource: String,
}

/// An OTLP/HTTP receiver on loopback: `POST /v1/traces` with a protobuf body.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app = axum::Router::new()
            .route("/v1/traces", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn in_trace(&self, trace_id: &str) -> Vec<Received> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }
}

async fn receive(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut spans = receiver.spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let kind = match span.kind {
                    2 => "server",
                    3 => "client",
                    4 => "producer",
                    5 => "consumer",
                    _ => "internal",
                };
                spans.push(Received {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    kind,
                    attributes: span
                        .attributes
                        .iter()
                        .filter_map(|a| {
                            Some((a.key.clone(), text(a.value.as_ref()?.value.as_ref()?)?))
                        })
                        .collect(),
                    resource: resource.clone(),
                });
            }
        }
    }
    StatusCode::OK
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        AnyValue::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a receiver and installs the exporter pointing at it.
async fn exporting() -> Receiver {
    let (receiver, url) = Receiver::start().await;
    let settings = TracingSettings {
        traces_endpoint: url,
        service_name: "cartflow-test".into(),
        project_id: Some("cartflow-local".into()),
    };
    telemetry::install("warn", Some(settings)).expect("installing the exporter");
    assert!(
        trace_context::enabled(),
        "another subscriber was installed first: run these tests with nextest"
    );
    receiver
}

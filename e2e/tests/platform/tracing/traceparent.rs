//! Messages without a `traceparent`, or with a malformed one, are processed all the same.

use super::exporting;
use crate::helpers::{TestApp, eventually_within, spawn_app};
use cartflow_events::{CustomerDeleted, Event, Service};
use cartflow_kit::telemetry;
use cartflow_messaging::trace_context;
use cartflow_testkit::envelope_for;
use google_cloud_pubsub::model::Message;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_without_or_with_a_malformed_traceparent_are_processed() {
    let receiver = exporting().await;
    let app: TestApp = spawn_app().await;
    let mut published = Vec::new();
    for traceparent in [None, Some("garbage"), Some("00-zz-yy-01")] {
        let envelope = envelope_for::<CustomerDeleted>(Uuid::new_v4());
        let mut attributes = envelope.to_attributes();
        if let Some(value) = traceparent {
            attributes.insert(trace_context::ATTRIBUTE.into(), value.into());
        }
        let event = CustomerDeleted {
            customer_id: Uuid::new_v4(),
        };
        let message = Message::new()
            .set_data(serde_json::to_vec(&event).unwrap())
            .set_attributes(attributes);
        app.publish_raw(CustomerDeleted::TOPIC.name(), vec![message])
            .await;
        published.push(envelope.event_id);
    }
    for event_id in &published {
        app.wait_for_duplicates(Service::Cart, *event_id, 0).await;
    }
    // Each became a trace root of its own in cart: a consumer span without a parent.
    telemetry::flush();
    let roots = eventually_within(Duration::from_secs(20), "their consumer spans", || async {
        telemetry::flush();
        let spans = receiver.spans.lock().unwrap().clone();
        let roots: Vec<_> = spans
            .into_iter()
            .filter(|s| s.kind == "consumer" && s.parent_span_id.is_empty())
            .filter(|s| s.attributes.get("service").map(String::as_str) == Some("cart"))
            .filter(|s| {
                published
                    .iter()
                    .any(|id| s.attributes.get("event_id") == Some(&id.to_string()))
            })
            .collect();
        (roots.len() == published.len()).then_some(roots)
    })
    .await;
    assert!(
        roots
            .iter()
            .all(|s| s.attributes.get("outcome").map(String::as_str) == Some("processed"))
    );
    app.stop().await;
}

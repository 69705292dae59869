//! One checkout is one trace across every hop and the outbox.

use super::{Received, exporting};
use crate::helpers::{eventually_within, spawn_app};
use cartflow_events::Service;
use cartflow_kit::telemetry;
use reqwest::StatusCode;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_checkout_is_one_trace_across_every_hop_and_the_outbox() {
    let receiver = exporting().await;
    let app = spawn_app().await;
    app.create_product("TRACE-1", 1500, 5).await;
    let customer = app.create_customer("Tracy", "tracy@example.com").await;
    app.wait_for_contact(customer, "tracy@example.com").await;
    app.add(customer, "TRACE-1", 1).await;

    // The caller's own trace context: every span of the checkout must join it.
    let trace_id = "5fa1c0de0123456789abcdef00000001";
    let caller_span = "00000000000000aa";
    let response = app
        .as_customer(
            app.http
                .post(format!("{}/cart/convert-to-order", app.url(Service::Cart))),
            customer,
        )
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&cartflow_api::cart::CheckoutRequest::paid_with(
            cartflow_api::cart::CheckoutRequest::TEST_CARD,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    eventually_within(
        Duration::from_secs(30),
        "the confirmation email",
        || async {
            app.mails()
                .iter()
                .any(|m| m.to.iter().any(|t| t == "tracy@example.com"))
                .then_some(())
        },
    )
    .await;

    let consumers = [
        Service::Inventory,
        Service::Payment,
        Service::Order,
        Service::Cart,
        Service::Notification,
        Service::EmailPush,
    ];
    let spans = eventually_within(Duration::from_secs(30), "the checkout's spans", || async {
        telemetry::flush();
        let spans = receiver.in_trace(trace_id);
        let consumed: HashSet<_> = spans
            .iter()
            .filter(|s| s.kind == "consumer")
            .filter_map(|s| s.attributes.get("service").cloned())
            .collect();
        let all = consumers.iter().all(|s| consumed.contains(s.name()));
        let mailed = spans.iter().any(|s| s.name == "smtp send");
        // Every delivery email-push took (the confirmation's and the receipt's, by email
        // and push) has had its outcome consumed by notification: the checks below follow
        // whichever email comes first.
        let count = |name: &str| {
            spans
                .iter()
                .filter(|s| s.kind == "consumer" && s.name == name)
                .count()
        };
        let requested = count("delivery.requested process");
        let results = count("delivery.result process");
        (all && mailed && requested >= 2 && results >= requested).then_some(spans)
    })
    .await;
    app.stop().await;

    let by_id: HashMap<&str, &Received> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let parent = |span: &Received| by_id.get(span.parent_span_id.as_str()).copied();
    let describe = |span: &Received| format!("{} ({})", span.name, span.kind);

    // The request span continues the caller's context.
    let convert = spans
        .iter()
        .find(|s| s.kind == "server" && s.name == "POST /cart/convert-to-order")
        .unwrap_or_else(|| {
            panic!(
                "no request span in {:#?}",
                spans.iter().map(describe).collect::<Vec<_>>()
            )
        });
    assert_eq!(convert.parent_span_id, caller_span);
    assert_eq!(
        convert
            .attributes
            .get("http.response.status_code")
            .map(String::as_str),
        Some("202")
    );

    // Every other span hangs off a span of the same trace: no orphan, no second root.
    for span in &spans {
        if span.span_id != convert.span_id && span.parent_span_id != caller_span {
            assert!(
                parent(span).is_some(),
                "{} has a parent outside the trace",
                describe(span)
            );
        }
    }

    // Across Pub/Sub: each consumer span's parent is the producer's publish span of its
    // event, whose parent is the span that wrote the event to the outbox.
    for service in consumers {
        let consumed = spans.iter().filter(|s| {
            s.kind == "consumer"
                && s.attributes.get("service").map(String::as_str) == Some(service.name())
        });
        for span in consumed {
            let publish =
                parent(span).unwrap_or_else(|| panic!("{service}'s {} has no parent", span.name));
            assert_eq!(
                publish.kind,
                "producer",
                "{service}'s {} follows {}",
                span.name,
                describe(publish)
            );
            assert_eq!(
                publish.attributes.get("event_id"),
                span.attributes.get("event_id"),
                "the publish of the same event"
            );
            let writer = parent(publish).expect("the publish span has a parent");
            assert!(
                matches!(writer.kind, "server" | "internal"),
                "an outbox row is written in a request or a handler, not in {}",
                describe(writer)
            );
        }
    }
    // The first hop: inventory's request came from the convert request's outbox row.
    let inventory = spans
        .iter()
        .find(|s| {
            s.kind == "consumer"
                && s.attributes.get("service").map(String::as_str) == Some("inventory")
        })
        .unwrap();
    let mut up = parent(inventory);
    while let Some(span) = up.filter(|s| s.kind != "server") {
        up = parent(span);
    }
    assert_eq!(
        up.map(|s| s.span_id.as_str()),
        Some(convert.span_id.as_str())
    );

    // The provider calls: each in a payment step continuing the trace of the event that
    // asked for it (authorize after stock-available, capture after order.created).
    for (step, call) in [
        ("authorizing", "provider.authorize"),
        ("capturing", "provider.capture"),
    ] {
        let provider = spans
            .iter()
            .find(|s| s.name == call)
            .unwrap_or_else(|| panic!("no {call} span in the checkout's trace"));
        let step_span = parent(provider).expect("the call's step");
        assert_eq!(step_span.name, "payment.step");
        assert_eq!(
            step_span.attributes.get("step").map(String::as_str),
            Some(step)
        );
        let mut up = parent(step_span);
        while let Some(span) = up.filter(|s| s.kind != "consumer") {
            up = parent(span);
        }
        let consumed = up.expect("the step continues a consumed event");
        assert_eq!(
            consumed.attributes.get("service").map(String::as_str),
            Some("payment")
        );
    }

    // The email: sent under email-push's consumer of the delivery request.
    let smtp = spans.iter().find(|s| s.name == "smtp send").unwrap();
    assert_eq!(
        smtp.attributes.get("outcome").map(String::as_str),
        Some("sent")
    );
    let mut up = parent(smtp);
    while let Some(span) = up.filter(|s| s.kind != "consumer") {
        up = parent(span);
    }
    let consumer = up.expect("the send descends from a consumed message");
    assert_eq!(
        consumer.attributes.get("service").map(String::as_str),
        Some("email-push")
    );
    // Its outcome, recorded in a batch, is published under the send and consumed by
    // notification within the same trace.
    let result = spans
        .iter()
        .find(|s| {
            s.name == "delivery.result publish"
                && parent(s)
                    .and_then(&parent)
                    .is_some_and(|g| g.span_id == smtp.span_id)
        })
        .expect("the email's delivery.result continues the send's trace");
    assert!(spans.iter().any(|s| s.kind == "consumer"
        && s.parent_span_id == result.span_id
        && s.attributes.get("service").map(String::as_str) == Some("notification")));
    // Each consumed message's batch commit is part of its trace too.
    assert!(
        spans
            .iter()
            .any(|s| s.name == "commit" && parent(s).is_some_and(|p| p.kind == "consumer"))
    );
    assert!(spans.iter().all(|s| s.resource == "cartflow-test"));
}

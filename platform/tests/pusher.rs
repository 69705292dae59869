//! The stack's pusher against the real emulator: it pushes a subscription's messages in
//! Pub/Sub's wrapped format, keeps exactly the concurrency it was given in flight, acks
//! a 2xx and nacks anything else (the message comes again, with its delivery attempt).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine;
use cartflow_events::Service;
use cartflow_platform::pusher::{self, Pusher};
use cartflow_testkit::{TestInfra, eventually_within_showing};
use google_cloud_pubsub::model::Message;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

const CONCURRENCY: usize = 4;
/// Messages that all answer 204 (the receiver holds each until `CONCURRENCY` are in
/// flight, so a pusher that keeps fewer shows up as a lower peak).
const MESSAGES: usize = 12;

#[derive(Default)]
struct Receiver {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    changed: Notify,
    /// Every request's body, in arrival order.
    requests: Mutex<Vec<Value>>,
}

async fn receive(State(receiver): State<Arc<Receiver>>, body: String) -> StatusCode {
    let request: Value = serde_json::from_str(&body).expect("a JSON push request");
    let now = receiver.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    receiver.peak.fetch_max(now, Ordering::SeqCst);
    receiver.changed.notify_waiters();
    // Hold the request until the pusher has `CONCURRENCY` in flight (or a while has
    // passed: the last few messages cannot fill every slot).
    let full = async {
        while receiver.in_flight.load(Ordering::SeqCst) < CONCURRENCY {
            let changed = receiver.changed.notified();
            if receiver.in_flight.load(Ordering::SeqCst) >= CONCURRENCY {
                break;
            }
            changed.await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), full).await;
    let fail = request["message"]["attributes"]["fail"] == "once"
        && request.get("deliveryAttempt") == Some(&Value::from(1));
    receiver.requests.lock().unwrap().push(request);
    receiver.in_flight.fetch_sub(1, Ordering::SeqCst);
    match fail {
        true => StatusCode::SERVICE_UNAVAILABLE,
        false => StatusCode::NO_CONTENT,
    }
}

#[tokio::test]
async fn the_pusher_keeps_its_concurrency_in_flight_and_acks_only_a_2xx() {
    let infra = TestInfra::new().await;
    let pubsub = infra.pubsub().clone();

    let receiver = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/pubsub/push", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Inventory's one subscription on `order-requested`.
    let routes: Vec<_> = pusher::routes(&pubsub, &[(Service::Inventory, url)], "/pubsub/push")
        .into_iter()
        .filter(|r| r.subscription.ends_with("inventory.order-requested"))
        .collect();
    assert_eq!(routes.len(), 1, "inventory consumes order-requested");
    let subscription = routes[0].subscription.clone();
    let pusher = Pusher::start(&pubsub, routes, CONCURRENCY).await.unwrap();

    let client = pubsub.publisher().await.unwrap();
    let publisher = client
        .publisher(pubsub.topic_path("order-requested"))
        .build();
    let mut sent: Vec<String> = Vec::new();
    for n in 0..=MESSAGES {
        let data = format!("message {n}");
        let fail = if n == MESSAGES { "once" } else { "never" };
        let attributes = HashMap::from([("fail".to_string(), fail.to_string())]);
        let message = Message::new()
            .set_data(data.clone().into_bytes())
            .set_attributes(attributes);
        publisher.publish(message).await.expect("publishing");
        sent.push(data);
    }

    // Every message answered 204 once, and the one that failed once pushed again.
    let decode = |request: &Value| {
        let data = request["message"]["data"].as_str().expect("data");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 data");
        String::from_utf8(bytes).expect("the published text")
    };
    sent.sort();
    let requests = eventually_within_showing(
        Duration::from_secs(60),
        "every message pushed and answered 204",
        || {
            let requests = receiver.requests.lock().unwrap().clone();
            let expected = sent.clone();
            async move {
                let mut answered: Vec<String> = requests
                    .iter()
                    .filter(|r| {
                        !(r["message"]["attributes"]["fail"] == "once" && r["deliveryAttempt"] == 1)
                    })
                    .map(decode)
                    .collect();
                answered.sort();
                answered.dedup();
                match answered == expected {
                    true => Ok(requests),
                    false => Err(format!("answered 204: {answered:?}")),
                }
            }
        },
    )
    .await;
    pusher.stop().await;

    for request in &requests {
        assert_eq!(request["subscription"], subscription.as_str());
        assert!(
            request["message"]["messageId"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }
    let failing: Vec<_> = requests
        .iter()
        .filter(|r| r["message"]["attributes"]["fail"] == "once")
        .map(|r| r["deliveryAttempt"].clone())
        .collect();
    assert_eq!(
        failing[..2],
        [Value::from(1), Value::from(2)],
        "a nacked push comes again as the next attempt"
    );
    assert_eq!(
        receiver.peak.load(Ordering::SeqCst),
        CONCURRENCY,
        "the pusher keeps exactly its concurrency in flight"
    );
}

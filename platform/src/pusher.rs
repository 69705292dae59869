//! A stand-in for Pub/Sub's push delivery with Pub/Sub's concurrency, for measuring
//! push mode: `cartflow stack --push-concurrency N`.
//!
//! The emulator pushes each subscription with exactly two requests in flight (a
//! constant in its code; BENCHMARKS.md), while Pub/Sub raises a push subscription's
//! concurrency as long as its pushes succeed. So on the emulator a service never sees
//! more than two pushes per subscription at once, and push mode's batches cannot form.
//! The pusher pulls each subscription and POSTs every message to its service's push
//! route, in Pub/Sub's wrapped format, with up to `concurrency` requests in flight per
//! subscription. As with Pub/Sub, a 2xx answer acks the message and anything else (or
//! no answer within the deadline) nacks it, so the subscription's retry and
//! dead-letter policies apply. The services see the same requests as from Pub/Sub's
//! push, on the same route, gatherer and answers. What differs is the pace: the
//! pusher keeps N in flight whatever the answers, where Pub/Sub slows down after
//! failures (a nacked message still comes back only after the subscription's retry
//! backoff). So it measures push under load, not its behaviour in an outage.
//!
//! Written here rather than taken from a crate: it is a loop over the SDK's streaming
//! pull and `reqwest`, and no maintained crate emulates push delivery.

use anyhow::Context;
use base64::Engine;
use cartflow_events::Service;
use cartflow_messaging::PubSubConfig;
use google_cloud_pubsub::client::Subscriber;
use google_cloud_pubsub::model::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a push may take before it counts as failed: Pub/Sub's default
/// acknowledgement deadline for push subscriptions.
const PUSH_DEADLINE: Duration = Duration::from_secs(10);

/// Where one subscription's messages go.
#[derive(Debug, Clone)]
pub struct Route {
    /// The full subscription path (`projects/…/subscriptions/…`).
    pub subscription: String,
    /// The push endpoint's full URL.
    pub endpoint: String,
}

/// Every subscription of each service to `base_url` + `path`, as
/// `provision::set_push_endpoints` would configure Pub/Sub to push them.
pub fn routes(pubsub: &PubSubConfig, endpoints: &[(Service, String)], path: &str) -> Vec<Route> {
    let topology = pubsub.topology();
    endpoints
        .iter()
        .flat_map(|(service, base_url)| {
            let endpoint = format!("{}{path}", base_url.trim_end_matches('/'));
            topology
                .subscriptions_of(*service)
                .map(move |sub| Route {
                    subscription: pubsub.subscription_path(&sub.name),
                    endpoint: endpoint.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Pushes until stopped.
pub struct Pusher {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Pusher {
    /// Starts pushing every route's messages, with up to `concurrency` requests in
    /// flight per subscription.
    pub async fn start(
        pubsub: &PubSubConfig,
        routes: Vec<Route>,
        concurrency: usize,
    ) -> anyhow::Result<Pusher> {
        anyhow::ensure!(concurrency > 0, "push concurrency must be at least 1");
        let subscriber = pubsub.subscriber().await?;
        let http = reqwest::Client::builder()
            .timeout(PUSH_DEADLINE)
            .build()
            .context("building the pusher's HTTP client")?;
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for route in routes {
            let pushing = Pushing {
                route,
                http: http.clone(),
                concurrency,
            };
            tasks.spawn(pushing.run(subscriber.clone(), stop.clone()));
        }
        Ok(Pusher { stop, tasks })
    }

    /// Stops pulling; the pushes in flight finish and are acked or nacked.
    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// One subscription's pushing.
struct Pushing {
    route: Route,
    http: reqwest::Client,
    concurrency: usize,
}

impl Pushing {
    async fn run(self, subscriber: Subscriber, stop: CancellationToken) {
        let subscription = &self.route.subscription;
        let in_flight = Arc::new(Semaphore::new(self.concurrency));
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            let mut stream = subscriber
                .subscribe(subscription)
                // Pub/Sub's push does not hand a subscriber messages it cannot push yet.
                .set_max_outstanding_messages(self.concurrency as i64)
                .build();
            let mut pushes = JoinSet::new();
            loop {
                // A free slot first, then the next message: at most `concurrency` in flight.
                let slot = tokio::select! {
                    _ = stop.cancelled() => break,
                    slot = in_flight.clone().acquire_owned() => slot.expect("never closed"),
                };
                let next = tokio::select! {
                    _ = stop.cancelled() => break,
                    next = stream.next() => next,
                };
                match next {
                    Some(Ok((message, ack))) => {
                        backoff = Duration::from_millis(100);
                        let request = push_request(&message, subscription, ack.delivery_attempt());
                        let post = self.http.post(&self.route.endpoint).json(&request);
                        pushes.spawn(async move {
                            match post.send().await {
                                Ok(answer) if answer.status().is_success() => ack.ack(),
                                _ => ack.nack(),
                            }
                            drop(slot);
                        });
                    }
                    Some(Err(err)) => {
                        tracing::warn!(%subscription, error = %err, "pusher: streaming pull failed; re-subscribing");
                        break;
                    }
                    None => break,
                }
                while pushes.try_join_next().is_some() {}
            }
            // The pushes in flight are answered, and their acks flushed, before the
            // stream closes.
            while pushes.join_next().await.is_some() {}
            stream.shutdown_token().shutdown().await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

/// The body Pub/Sub POSTs for a message (its "wrapped" payload format).
fn push_request(
    message: &Message,
    subscription: &str,
    delivery_attempt: Option<i32>,
) -> serde_json::Value {
    let attributes: HashMap<&str, &str> = message
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut request = serde_json::json!({
        "message": {
            "attributes": attributes,
            "data": base64::engine::general_purpose::STANDARD.encode(&message.data),
            "messageId": message.message_id,
        },
        "subscription": subscription,
    });
    if let Some(attempt) = delivery_attempt {
        request["deliveryAttempt"] = attempt.into();
    }
    request
}

//! The live overview: every `refresh`, each service's readiness and Prometheus
//! metrics, folded into one [`Snapshot`] that `GET /api/live` streams as server-sent
//! events (and `GET /api/snapshot` returns once).
//!
//! Counts come from the services' own counters, so they start at zero when a service
//! starts; rates are the change between two samples. A subscription's backlog is an
//! estimate from those counters: what its topic's publisher published minus what the
//! subscription finished (processed, skipped as a duplicate, or dead-lettered).

use super::Console;
use super::series::Series;
use super::services::{Caller, Services};
use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use cartflow_events::{Service, Topology};
use futures::Stream;
use serde::Serialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub fn router() -> Router<Console> {
    Router::new()
        .route("/api/live", get(stream))
        .route("/api/snapshot", get(snapshot))
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    pub services: Vec<ServiceState>,
    pub checkouts: Checkouts,
    pub subscriptions: Vec<SubscriptionState>,
    pub outboxes: Vec<OutboxState>,
    /// Messages that reached their last attempt and went to a dead-letter topic.
    pub dead_lettered: f64,
    /// The rates of the last [`RECENT`] samples, oldest first, for the chart.
    pub recent: Vec<Rates>,
}

/// How many samples the chart shows.
const RECENT: usize = 120;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rates {
    pub checkouts_per_second: f64,
    pub messages_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceState {
    pub name: &'static str,
    pub url: String,
    pub ready: bool,
    /// Why not ready (the service's own `/ready` answer, or why it did not answer).
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Checkouts {
    pub per_second: f64,
    pub started: f64,
    pub in_flight: f64,
    pub confirmed: f64,
    pub rejected: f64,
    pub expired: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionState {
    pub name: String,
    pub topic: String,
    pub consumer: &'static str,
    pub per_second: f64,
    pub processed: f64,
    pub duplicates: f64,
    pub failed_attempts: f64,
    pub dead_lettered: f64,
    pub backlog: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxState {
    pub service: &'static str,
    pub waiting: f64,
    pub oldest_waiting_seconds: f64,
}

pub struct Live {
    latest: watch::Receiver<Arc<Snapshot>>,
}

impl Live {
    pub fn start(services: Services, refresh: Duration, stop: CancellationToken) -> Live {
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        tokio::spawn(async move {
            let mut previous: Option<(Instant, Counters)> = None;
            let mut recent = std::collections::VecDeque::with_capacity(RECENT);
            loop {
                let (mut snapshot, counters) = sample(&services, previous.as_ref()).await;
                previous = Some((Instant::now(), counters));
                if recent.len() == RECENT {
                    recent.pop_front();
                }
                recent.push_back(Rates {
                    checkouts_per_second: snapshot.checkouts.per_second,
                    messages_per_second: snapshot
                        .subscriptions
                        .iter()
                        .fold(0.0, |n, s| n + s.per_second),
                });
                snapshot.recent = recent.iter().copied().collect();
                tx.send_replace(Arc::new(snapshot));
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(refresh) => {}
                }
            }
        });
        Live { latest: rx }
    }
}

async fn snapshot(State(console): State<Console>) -> axum::Json<Snapshot> {
    axum::Json(console.inner.live.latest.borrow().as_ref().clone())
}

async fn stream(
    State(console): State<Console>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut latest = console.inner.live.latest.clone();
    latest.mark_changed();
    let events = futures::stream::unfold(latest, |mut latest| async move {
        latest.changed().await.ok()?;
        let json = serde_json::to_string(latest.borrow().as_ref()).ok()?;
        Some((Ok(Event::default().event("snapshot").data(json)), latest))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// The counters rates are computed from.
#[derive(Debug, Default)]
struct Counters {
    started: f64,
    finished_by_subscription: HashMap<String, f64>,
}

async fn sample(
    services: &Services,
    previous: Option<&(Instant, Counters)>,
) -> (Snapshot, Counters) {
    let probes = futures::future::join_all(Service::ALL.iter().map(|&service| async move {
        let ready = services.get(service, "/ready", Caller::Public).await;
        let metrics = services.text(service, "/metrics").await;
        (service, ready, metrics)
    }))
    .await;
    let mut series = Series::default();
    let mut states = Vec::new();
    for (service, ready, metrics) in probes {
        let (ready, detail) = match ready {
            Ok(reply) if reply.is_success() => (true, String::new()),
            Ok(reply) => (false, reply.body.to_string()),
            Err(err) => (false, err.to_string()),
        };
        states.push(ServiceState {
            name: service.name(),
            url: services.url(service).to_string(),
            ready,
            detail,
        });
        if let Ok(text) = metrics {
            series.add(&text);
        }
    }
    let (snapshot, counters) = fold(&series, previous);
    (
        Snapshot {
            at: Some(chrono::Utc::now()),
            services: states,
            ..snapshot
        },
        counters,
    )
}

fn rate(now: f64, before: Option<f64>, elapsed: Option<f64>) -> f64 {
    match (before, elapsed) {
        (Some(before), Some(secs)) if secs > 0.0 => ((now - before) / secs).max(0.0),
        _ => 0.0,
    }
}

fn fold(series: &Series, previous: Option<&(Instant, Counters)>) -> (Snapshot, Counters) {
    let elapsed = previous.map(|(at, _)| at.elapsed().as_secs_f64());
    let before = previous.map(|(_, c)| c);
    let ended = |outcome| series.sum("cartflow_checkouts_ended_total", &[("outcome", outcome)]);
    let started = series.sum("cartflow_checkouts_started_total", &[]);
    let checkouts = Checkouts {
        per_second: rate(started, before.map(|c| c.started), elapsed),
        started,
        in_flight: series.sum("cartflow_checkouts_pending", &[]),
        confirmed: ended("confirmed"),
        rejected: ended("rejected"),
        expired: ended("expired"),
    };
    let mut counters = Counters {
        started,
        ..Counters::default()
    };
    let mut subscriptions = Vec::new();
    for spec in Topology::default().subscriptions() {
        let sub = [("subscription", spec.name.as_str())];
        let outcome = |o| {
            series.sum(
                "cartflow_messages_total",
                &[("subscription", spec.name.as_str()), ("outcome", o)],
            )
        };
        let (processed, duplicates) = (outcome("processed"), outcome("duplicate"));
        let dead_lettered = series.sum("cartflow_messages_dead_lettered_total", &sub);
        let finished = processed + duplicates + dead_lettered;
        let published = series.sum(
            "cartflow_outbox_published_total",
            &[("topic", spec.topic.name())],
        );
        let previous = before.and_then(|c| c.finished_by_subscription.get(&spec.name).copied());
        subscriptions.push(SubscriptionState {
            name: spec.name.clone(),
            topic: spec.topic.name().to_string(),
            consumer: spec.consumer.name(),
            per_second: rate(finished, previous, elapsed),
            processed,
            duplicates,
            failed_attempts: outcome("failed") + outcome("rejected"),
            dead_lettered,
            backlog: (published - finished).max(0.0),
        });
        counters
            .finished_by_subscription
            .insert(spec.name.clone(), finished);
    }
    let outboxes = Service::ALL
        .iter()
        .map(|&s| {
            let of = [("service", s.name())];
            OutboxState {
                service: s.name(),
                waiting: series.sum("cartflow_outbox_waiting", &of),
                oldest_waiting_seconds: series.sum("cartflow_outbox_oldest_waiting_seconds", &of),
            }
        })
        .collect();
    let dead_lettered = subscriptions.iter().fold(0.0, |n, s| n + s.dead_lettered);
    let snapshot = Snapshot {
        checkouts,
        subscriptions,
        outboxes,
        dead_lettered,
        ..Snapshot::default()
    };
    (snapshot, counters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Per-subscription figures by name, for the topology graph's edges.
    fn by_subscription(snapshot: &Snapshot) -> BTreeMap<&str, &SubscriptionState> {
        snapshot
            .subscriptions
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect()
    }

    const SCRAPE: &str = r#"# TYPE cartflow_checkouts_started_total counter
cartflow_checkouts_started_total{service="cart"} 10
cartflow_checkouts_ended_total{service="cart",outcome="confirmed"} 7
cartflow_checkouts_ended_total{service="cart",outcome="rejected"} 2
cartflow_checkouts_pending{service="cart"} 1
cartflow_outbox_published_total{service="cart",topic="order-requested"} 10
cartflow_messages_total{service="inventory",subscription="inventory.order-requested",outcome="processed"} 6
cartflow_messages_total{service="inventory",subscription="inventory.order-requested",outcome="duplicate"} 1
cartflow_messages_total{service="inventory",subscription="inventory.order-requested",outcome="rejected"} 5
cartflow_messages_dead_lettered_total{service="inventory",subscription="inventory.order-requested"} 1
"#;

    #[test]
    fn folds_counters_into_outcomes_rates_and_backlogs() {
        let mut series = Series::default();
        // The same series twice (one process, two services' /metrics) count once.
        series.add(SCRAPE);
        series.add(SCRAPE);
        let (first, counters) = fold(&series, None);
        assert_eq!(first.checkouts.started, 10.0);
        assert_eq!(first.checkouts.confirmed, 7.0);
        assert_eq!(first.checkouts.rejected, 2.0);
        assert_eq!(first.checkouts.in_flight, 1.0);
        assert_eq!(first.checkouts.per_second, 0.0, "no rate from one sample");
        let requested = by_subscription(&first)["inventory.order-requested"];
        assert_eq!(requested.processed, 6.0);
        assert_eq!(requested.failed_attempts, 5.0);
        // 10 published, 6 processed + 1 duplicate + 1 dead-lettered finished.
        assert_eq!(requested.backlog, 2.0);
        assert_eq!(first.dead_lettered, 1.0);

        let mut later = Series::default();
        later.add(&SCRAPE.replace(
            "started_total{service=\"cart\"} 10",
            "started_total{service=\"cart\"} 30",
        ));
        let earlier = (Instant::now() - Duration::from_secs(2), counters);
        let (second, _) = fold(&later, Some(&earlier));
        let per_second = second.checkouts.per_second;
        assert!(
            (9.0..=10.0).contains(&per_second),
            "20 in 2 s: {per_second}"
        );
    }
}

//! `cartflow events`: the event log of every service, read from their databases, and
//! replay of logged events.
//!
//! A replay re-queues outbox rows in the producing service's database; that service's
//! relay publishes them again (its sweep finds them within `OUTBOX_SWEEP_MS`). The
//! event ids stay, so consumers that had an event skip it: safe to repeat. `--failed`
//! picks the events some consumer failed and has not processed since, whichever
//! service produced them.

use anyhow::Context;
pub use cartflow_console::databases::Databases;
use cartflow_events::Service;
use cartflow_messaging::event_log::{self, EventFilter, LoggedEvent, UnresolvedFailure};

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Which logged events to act on.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filter: EventFilter,
    /// Only events some consumer failed and has not processed since.
    pub failed: bool,
    /// Only events these services produced; empty for all.
    pub producers: Vec<Service>,
}

/// A failed consumption, with the service that failed it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    #[serde(serialize_with = "service_name")]
    pub consumer: Service,
    #[serde(flatten)]
    pub failure: UnresolvedFailure,
}

fn service_name<S: serde::Serializer>(service: &Service, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(service.name())
}

/// Every consumed event a service failed and has not processed since.
pub async fn unresolved_failures(databases: &Databases) -> anyhow::Result<Vec<Failure>> {
    let mut all = Vec::new();
    for service in Service::ALL {
        let Some(pool) = databases.open(service).await? else {
            continue;
        };
        let failures = event_log::unresolved_failures(&pool, None, i64::MAX)
            .await
            .with_context(|| format!("reading the failure log of {service}"))?;
        all.extend(failures.into_iter().map(|failure| Failure {
            consumer: service,
            failure,
        }));
        pool.close().await;
    }
    Ok(all)
}

/// The logged events `selection` picks, per producing service (oldest first).
pub async fn select(
    databases: &Databases,
    selection: &Selection,
) -> anyhow::Result<Vec<(Service, Vec<LoggedEvent>)>> {
    let mut filter = selection.filter.clone();
    if selection.failed {
        let failed: BTreeSet<Uuid> = unresolved_failures(databases)
            .await?
            .into_iter()
            .map(|f| f.failure.event_id)
            .collect();
        filter.event_ids = if filter.event_ids.is_empty() {
            failed.into_iter().collect()
        } else {
            filter
                .event_ids
                .into_iter()
                .filter(|id| failed.contains(id))
                .collect()
        };
        // Nothing failed: nothing to pick (an empty id list would match everything).
        if filter.event_ids.is_empty() {
            return Ok(Vec::new());
        }
    }
    let mut picked = Vec::new();
    for service in Service::ALL {
        if !selection.producers.is_empty() && !selection.producers.contains(&service) {
            continue;
        }
        let Some(pool) = databases.open(service).await? else {
            continue;
        };
        let events = event_log::published(&pool, &filter, None, i64::MAX)
            .await
            .with_context(|| format!("reading the outbox of {service}"))?;
        if !events.is_empty() {
            picked.push((service, events));
        }
        pool.close().await;
    }
    Ok(picked)
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub matched: usize,
    /// Published again before the wait ran out.
    pub published: usize,
}

/// Re-queues `picked` and waits up to `wait` for the producers' relays to publish
/// them, calling `progress(published, total)` as they do.
pub async fn replay(
    databases: &Databases,
    picked: &[(Service, Vec<LoggedEvent>)],
    wait: Duration,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ReplayReport> {
    let mut queued = Vec::new();
    for (service, events) in picked {
        let pool = databases
            .open(*service)
            .await?
            .with_context(|| format!("the database of {service} is gone"))?;
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        event_log::requeue(&pool, &ids)
            .await
            .with_context(|| format!("re-queueing in the outbox of {service}"))?;
        queued.push((pool, ids));
    }
    let total = queued.iter().map(|(_, ids)| ids.len()).sum();
    let deadline = Instant::now() + wait;
    let mut last = usize::MAX;
    loop {
        let mut published = 0;
        for (pool, ids) in &queued {
            published += event_log::count_published(pool, ids).await? as usize;
        }
        if published != last {
            progress(published, total);
            last = published;
        }
        if published == total || Instant::now() >= deadline {
            for (pool, _) in queued {
                pool.close().await;
            }
            return Ok(ReplayReport {
                matched: total,
                published,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

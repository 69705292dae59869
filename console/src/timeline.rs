//! A saga's timeline across every service: what each published (its outbox), consumed
//! (its inbox) and failed to consume (its failure log), for one correlation id, in
//! time order. Reads each service's event log (`cartflow_messaging::event_log`) in its
//! own database, nothing else of it; no service needs to be running. A consumed event
//! carries its handler's note where the handler left one, so that what the published
//! events do not say shows too (a compensation: a reservation released for an expired
//! checkout or a cancelled order).

use crate::databases::Databases;
use anyhow::Context;
use cartflow_events::Service;
use cartflow_messaging::event_log::{self, EventBody, EventFilter};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub service: String,
    /// `consumed`, `failed` or `published`.
    pub what: &'static str,
    pub event_type: String,
    pub event_id: Option<Uuid>,
    pub detail: String,
    /// For a published event: the message as it was published (attributes, payload).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<EventBody>,
}

impl Entry {
    /// Within one transaction an event is consumed (and acted on), then what it causes
    /// is published.
    fn rank(&self) -> u8 {
        match self.what {
            "published" => 1,
            _ => 0,
        }
    }
}

/// Every entry of saga `correlation_id`, oldest first. Databases that do not exist
/// (a service never started) are skipped.
pub async fn collect(
    server_url: &str,
    database_prefix: &str,
    correlation_id: &str,
) -> anyhow::Result<Vec<Entry>> {
    let databases = Databases {
        server_url: server_url.to_string(),
        prefix: database_prefix.to_string(),
    };
    let mut entries = Vec::new();
    for service in Service::ALL {
        let name = databases.name(service);
        let conn = match databases.open(service).await {
            Ok(Some(pool)) => pool,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(database = %name, error = format!("{err:#}"), "cannot open; skipped");
                continue;
            }
        };
        let service = service.name().to_string();
        let saga = EventFilter {
            correlation_id: Some(correlation_id.to_string()),
            ..EventFilter::default()
        };
        let published = event_log::published(&conn, &saga, None, i64::MAX)
            .await
            .with_context(|| format!("reading the outbox of {name}"))?;
        let ids: Vec<Uuid> = published.iter().map(|e| e.event_id).collect();
        let mut messages: std::collections::HashMap<Uuid, EventBody> =
            event_log::bodies(&conn, &ids)
                .await
                .with_context(|| format!("reading the outbox of {name}"))?
                .into_iter()
                .map(|b| (b.event_id, b))
                .collect();
        for e in published {
            let attempts = e.publish_attempts;
            let detail = match (e.published_at, e.last_error) {
                (Some(t), _) => format!(
                    "published {} ({attempts} attempt(s))",
                    t.format("%H:%M:%S%.3f")
                ),
                (None, Some(err)) => format!("NOT published after {attempts} attempt(s): {err}"),
                (None, None) => "waiting in the outbox".into(),
            };
            entries.push(Entry {
                at: e.created_at,
                service: service.clone(),
                what: "published",
                event_type: e.topic,
                event_id: Some(e.event_id),
                detail,
                message: messages.remove(&e.event_id),
            });
        }
        let consumed = event_log::consumed(&conn, correlation_id)
            .await
            .with_context(|| format!("reading the inbox of {name}"))?;
        for e in consumed {
            let duplicates = match e.duplicate_deliveries {
                0 => None,
                n => Some(format!("{n} duplicate(s) skipped")),
            };
            let detail = [e.note, duplicates]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            let detail = detail.join("; ");
            entries.push(Entry {
                at: e.processed_at,
                service: service.clone(),
                what: "consumed",
                event_type: e.event_type,
                event_id: Some(e.event_id),
                detail,
                message: None,
            });
        }
        let failed = event_log::failures(&conn, correlation_id)
            .await
            .with_context(|| format!("reading the failure log of {name}"))?;
        for f in failed {
            entries.push(Entry {
                at: f.last_failed_at,
                service: service.clone(),
                what: "failed",
                event_type: f.event_type.unwrap_or_default(),
                event_id: f.event_id,
                detail: format!("{}, {} attempt(s): {}", f.kind, f.attempts, f.last_error),
                message: None,
            });
        }
    }
    entries.sort_by_key(|e| (e.at, e.rank()));
    Ok(entries)
}

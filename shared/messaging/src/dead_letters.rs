//! Dead letters, for the operator: list what each dead-letter subscription holds, and
//! replay it to the topic it came from once the cause is fixed.
//!
//! A replayed message keeps its attributes, so its `event_id` too: consumers that had
//! already processed it skip it (their inbox), the one that could not now processes it.
//! Replaying is therefore safe to repeat. The Pub/Sub attributes that mark a dead letter
//! (`CloudPubSubDeadLetterSource*`) are dropped on the way back.

use crate::PubSubConfig;
use anyhow::Context;
use cartflow_events::Service;
use cartflow_events::envelope::{CORRELATION_ID, EVENT_ID, EVENT_TYPE, OCCURRED_AT};
use chrono::{DateTime, Utc};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::ShutdownToken;
use google_cloud_pubsub::subscriber::handler::Handler;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How long a dead-letter subscription must stay quiet to count as read to the end.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(2);

/// Pub/Sub's own marks on a dead-lettered message.
const DEAD_LETTER_PREFIX: &str = "CloudPubSubDeadLetterSource";

/// One dead-lettered message, as the operator sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub message_id: String,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    pub occurred_at: Option<String>,
    pub dead_lettered_at: Option<DateTime<Utc>>,
    pub source_subscription: Option<String>,
    pub delivery_attempts: Option<String>,
    pub body: String,
}

impl DeadLetter {
    fn from_message(m: &Message) -> DeadLetter {
        let attr = |k: &str| m.attributes.get(k).cloned();
        DeadLetter {
            message_id: m.message_id.clone(),
            event_id: attr(EVENT_ID),
            event_type: attr(EVENT_TYPE),
            correlation_id: attr(CORRELATION_ID),
            occurred_at: attr(OCCURRED_AT),
            dead_lettered_at: m
                .publish_time
                .as_ref()
                .and_then(|t| DateTime::from_timestamp(t.seconds(), t.nanos().max(0) as u32)),
            source_subscription: attr("CloudPubSubDeadLetterSourceSubscription"),
            delivery_attempts: attr("CloudPubSubDeadLetterSourceDeliveryCount"),
            body: String::from_utf8_lossy(&m.data).chars().take(500).collect(),
        }
    }

    /// When the event happened, or else when it was dead-lettered.
    fn time(&self) -> Option<DateTime<Utc>> {
        self.occurred_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .or(self.dead_lettered_at)
    }
}

/// Which dead letters to act on. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub event_ids: Vec<String>,
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn matches(&self, d: &DeadLetter) -> bool {
        let id_ok = self.event_ids.is_empty()
            || d.event_id
                .as_ref()
                .is_some_and(|id| self.event_ids.contains(id));
        let type_ok = self
            .event_type
            .as_ref()
            .is_none_or(|t| d.event_type.as_ref() == Some(t));
        let time = d.time();
        let since_ok = self.since.is_none_or(|s| time.is_some_and(|t| t >= s));
        let until_ok = self.until.is_none_or(|u| time.is_some_and(|t| t <= u));
        id_ok && type_ok && since_ok && until_ok
    }
}

/// The dead-letter subscriptions of the topology (short names), with the topic each
/// one's messages came from.
pub fn dead_letter_subscriptions(pubsub: &PubSubConfig) -> Vec<(String, String)> {
    pubsub
        .topology()
        .subscriptions()
        .iter()
        .map(|s| (s.dead_letter_topic.clone(), s.topic.name().to_string()))
        .collect()
}

/// The dead-letter subscriptions holding what `service` could not consume.
pub fn dead_letter_subscriptions_of(pubsub: &PubSubConfig, service: Service) -> Vec<String> {
    pubsub
        .topology()
        .subscriptions_of(service)
        .map(|s| s.dead_letter_topic.clone())
        .collect()
}

/// Messages pulled from a subscription whose stream is already closed, held until
/// acked or nacked.
struct Pulled {
    shutdown: ShutdownToken,
    held: Vec<(Message, Handler)>,
}

impl Pulled {
    /// Nacks what is still held, and sends every ack and nack before returning.
    async fn close(self) {
        let Pulled { shutdown, held } = self;
        drop(held);
        shutdown.shutdown().await;
    }
}

/// How long a message delivered to a stream stays leased if the stream ends before
/// handing it over: the least Pub/Sub allows (the client's default is 60 s).
const STREAM_ACK_DEADLINE: Duration = Duration::from_secs(10);

/// Everything the subscription holds right now: pulls until nothing new arrives for
/// `idle`. The caller acks or nacks each handler, then calls [`Pulled::close`].
async fn drain(
    pubsub: &PubSubConfig,
    subscription: &str,
    idle: Duration,
) -> anyhow::Result<Pulled> {
    // A streaming pull just waits when Pub/Sub is unreachable or the name is wrong, and
    // waiting looks like "empty": ask for the subscription first, which fails clearly.
    let path = pubsub.subscription_path(subscription);
    tokio::time::timeout(
        Duration::from_secs(10),
        pubsub
            .subscription_admin()
            .await?
            .get_subscription()
            .set_subscription(&path)
            .send(),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "Pub/Sub did not answer within 10 s (is the emulator running at PUBSUB_EMULATOR_HOST?)"
        )
    })?
    .with_context(|| format!("looking up {path}"))?;
    let subscriber = pubsub.subscriber().await?;
    let mut stream = subscriber
        .subscribe(pubsub.subscription_path(subscription))
        .set_max_lease_extension(STREAM_ACK_DEADLINE)
        .build();
    let mut seen = HashSet::new();
    let mut held = Vec::new();
    let mut repeated = Vec::new();
    while let Ok(next) = tokio::time::timeout(idle, stream.next()).await {
        let Some(next) = next else { break };
        let (message, handler) = next.with_context(|| format!("pulling {subscription}"))?;
        if seen.insert(message.message_id.clone()) {
            held.push((message, handler));
        } else {
            repeated.push(handler);
        }
    }
    // Close the stream before anything is nacked. A nacked message goes straight back
    // to an open stream, and one that ends without reading it leaves it leased for the
    // stream's ack deadline: measured on the emulator, a letter a `list` had just let
    // go of stayed hidden from the next commands for about 60 s. Acks and nacks go out
    // by their own calls, so they still work once the stream is gone.
    let shutdown = stream.shutdown_token();
    drop(stream);
    repeated.into_iter().for_each(Handler::nack);
    Ok(Pulled { shutdown, held })
}

/// What `subscription` holds; leaves every message where it is.
pub async fn list(
    pubsub: &PubSubConfig,
    subscription: &str,
    idle: Duration,
) -> anyhow::Result<Vec<DeadLetter>> {
    let mut pulled = drain(pubsub, subscription, idle).await?;
    let letters = pulled
        .held
        .iter()
        .map(|(m, _)| DeadLetter::from_message(m))
        .collect();
    for (_, handler) in pulled.held.drain(..) {
        handler.nack();
    }
    pulled.close().await;
    Ok(letters)
}

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    pub matched: usize,
    pub replayed: usize,
    pub left: usize,
}

/// Publishes every matching dead letter of `subscription` back to its source topic and
/// removes it from the dead-letter subscription; with `dry_run`, only counts.
/// `progress(done, total, letter)` is called after each one.
pub async fn replay(
    pubsub: &PubSubConfig,
    subscription: &str,
    filter: &Filter,
    dry_run: bool,
    idle: Duration,
    mut progress: impl FnMut(usize, usize, &DeadLetter),
) -> anyhow::Result<ReplayReport> {
    let topic = dead_letter_subscriptions(pubsub)
        .into_iter()
        .find(|(dlq, _)| dlq == subscription)
        .map(|(_, topic)| topic)
        .with_context(|| {
            format!("{subscription} is not a dead-letter subscription of the topology")
        })?;
    let mut pulled = drain(pubsub, subscription, idle).await?;
    let (chosen, others): (Vec<_>, Vec<_>) = pulled
        .held
        .drain(..)
        .partition(|(m, _)| filter.matches(&DeadLetter::from_message(m)));
    let mut report = ReplayReport {
        matched: chosen.len(),
        left: others.len(),
        ..Default::default()
    };
    for (_, handler) in others {
        handler.nack();
    }
    if dry_run {
        for (i, (message, handler)) in chosen.into_iter().enumerate() {
            progress(i + 1, report.matched, &DeadLetter::from_message(&message));
            handler.nack();
        }
        pulled.close().await;
        return Ok(report);
    }
    let publisher = pubsub
        .publisher()
        .await?
        .publisher(pubsub.topic_path(&topic))
        .build();
    let total = report.matched;
    for (message, handler) in chosen {
        let letter = DeadLetter::from_message(&message);
        let key = message.ordering_key.clone();
        let attributes: HashMap<String, String> = message
            .attributes
            .into_iter()
            .filter(|(k, _)| !k.starts_with(DEAD_LETTER_PREFIX))
            .collect();
        let original = Message::new()
            .set_data(message.data)
            .set_attributes(attributes)
            .set_ordering_key(key.clone());
        match publisher.publish(original).await {
            Ok(_) => {
                handler.ack();
                report.replayed += 1;
            }
            Err(err) => {
                handler.nack();
                publisher.resume_publish(key);
                tracing::warn!(message_id = %letter.message_id, error = %err, "replay failed; the dead letter stays");
            }
        }
        progress(report.replayed, total, &letter);
    }
    publisher.flush().await;
    pulled.close().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(event_type: &str, occurred_at: &str) -> DeadLetter {
        DeadLetter {
            message_id: "1".into(),
            event_id: Some("e1".into()),
            event_type: Some(event_type.into()),
            correlation_id: None,
            occurred_at: Some(occurred_at.into()),
            dead_lettered_at: None,
            source_subscription: None,
            delivery_attempts: None,
            body: String::new(),
        }
    }

    #[test]
    fn filters_by_id_type_and_time() {
        let d = letter("order.created", "2026-11-22T10:00:00Z");
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        assert!(Filter::default().matches(&d));
        assert!(
            Filter {
                event_ids: vec!["e1".into()],
                ..Default::default()
            }
            .matches(&d)
        );
        assert!(
            !Filter {
                event_ids: vec!["e2".into()],
                ..Default::default()
            }
            .matches(&d)
        );
        assert!(
            !Filter {
                event_type: Some("stock.rejected".into()),
                ..Default::default()
            }
            .matches(&d)
        );
        assert!(
            Filter {
                since: at("2026-11-22T09:00:00Z"),
                until: at("2026-11-22T11:00:00Z"),
                ..Default::default()
            }
            .matches(&d)
        );
        assert!(
            !Filter {
                since: at("2026-11-22T10:00:01Z"),
                ..Default::default()
            }
            .matches(&d)
        );
    }
}

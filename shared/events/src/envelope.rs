//! The attributes every cartflow message carries, beside its JSON body.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

pub const EVENT_ID: &str = "event_id";
pub const EVENT_TYPE: &str = "event_type";
pub const EVENT_VERSION: &str = "event_version";
pub const CORRELATION_ID: &str = "correlation_id";
pub const CAUSATION_ID: &str = "causation_id";
pub const PRODUCER: &str = "producer";
pub const OCCURRED_AT: &str = "occurred_at";
/// The W3C `traceparent` of the publishing span, present while tracing is on. The name
/// is the one Google's own Pub/Sub client libraries use, so traces join with theirs.
pub const TRACE_PARENT: &str = "googclient_traceparent";

/// Metadata of one event. `event_id` is fixed when the event is first written to an
/// outbox and never changes, so consumers deduplicate on it even when the relay
/// publishes the same event twice (Pub/Sub's own message id would differ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub event_id: Uuid,
    pub event_type: String,
    pub event_version: u32,
    /// The saga this event belongs to: the cart id for a checkout.
    pub correlation_id: String,
    /// The event (or command) that caused this one.
    pub causation_id: String,
    pub producer: String,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("missing attribute '{0}'")]
    Missing(&'static str),
    #[error("attribute '{name}' has an invalid value '{value}'")]
    Invalid { name: &'static str, value: String },
}

impl Envelope {
    pub fn to_attributes(&self) -> HashMap<String, String> {
        HashMap::from([
            (EVENT_ID.into(), self.event_id.to_string()),
            (EVENT_TYPE.into(), self.event_type.clone()),
            (EVENT_VERSION.into(), self.event_version.to_string()),
            (CORRELATION_ID.into(), self.correlation_id.clone()),
            (CAUSATION_ID.into(), self.causation_id.clone()),
            (PRODUCER.into(), self.producer.clone()),
            (
                OCCURRED_AT.into(),
                self.occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
        ])
    }

    /// Parses the attributes of a received message. Anything missing or malformed is
    /// an error naming the attribute: such a message can never be processed.
    pub fn from_attributes(attributes: &HashMap<String, String>) -> Result<Self, EnvelopeError> {
        let get = |name: &'static str| {
            attributes
                .get(name)
                .filter(|v| !v.is_empty())
                .ok_or(EnvelopeError::Missing(name))
        };
        let invalid = |name: &'static str, value: &str| EnvelopeError::Invalid {
            name,
            value: value.chars().take(80).collect(),
        };
        let event_id = get(EVENT_ID)?;
        let event_version = get(EVENT_VERSION)?;
        let occurred_at = get(OCCURRED_AT)?;
        Ok(Envelope {
            event_id: Uuid::parse_str(event_id).map_err(|_| invalid(EVENT_ID, event_id))?,
            event_type: get(EVENT_TYPE)?.clone(),
            event_version: event_version
                .parse()
                .map_err(|_| invalid(EVENT_VERSION, event_version))?,
            correlation_id: get(CORRELATION_ID)?.clone(),
            causation_id: get(CAUSATION_ID)?.clone(),
            producer: get(PRODUCER)?.clone(),
            occurred_at: DateTime::parse_from_rfc3339(occurred_at)
                .map_err(|_| invalid(OCCURRED_AT, occurred_at))?
                .with_timezone(&Utc),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            event_id: Uuid::new_v4(),
            event_type: "order.created".into(),
            event_version: 1,
            correlation_id: Uuid::new_v4().to_string(),
            causation_id: Uuid::new_v4().to_string(),
            producer: "order".into(),
            occurred_at: DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn attributes_round_trip() {
        let envelope = sample();
        let attributes = envelope.to_attributes();
        assert_eq!(attributes[OCCURRED_AT], "2026-11-22T10:00:00.123Z");
        assert_eq!(Envelope::from_attributes(&attributes), Ok(envelope));
    }

    #[test]
    fn missing_or_bad_attributes_are_named() {
        let mut attributes = sample().to_attributes();
        attributes.remove(PRODUCER);
        assert_eq!(
            Envelope::from_attributes(&attributes),
            Err(EnvelopeError::Missing(PRODUCER))
        );

        let mut attributes = sample().to_attributes();
        attributes.insert(EVENT_ID.into(), "not-a-uuid".into());
        assert!(matches!(
            Envelope::from_attributes(&attributes),
            Err(EnvelopeError::Invalid { name: EVENT_ID, .. })
        ));

        let mut attributes = sample().to_attributes();
        attributes.insert(EVENT_VERSION.into(), "one".into());
        assert!(matches!(
            Envelope::from_attributes(&attributes),
            Err(EnvelopeError::Invalid {
                name: EVENT_VERSION,
                ..
            })
        ));
    }
}

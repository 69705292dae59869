//! The document's schemas: the tidying applied to each generated one, the schema of
//! every message's attributes, and a channel's payload or attributes schema cut out to
//! stand alone (what the tests validate every example against).

use super::{SCHEMAS, UUID_PATTERN};
use crate::envelope::{
    CAUSATION_ID, CORRELATION_ID, EVENT_ID, EVENT_TYPE, EVENT_VERSION, OCCURRED_AT, PRODUCER,
    TRACE_PARENT,
};
use schemars::Schema;
use serde_json::{Value, json};

/// The JSON Schema (draft 7) of the payload on channel `channel` of `document`, standing
/// alone: the channel's message payload, with the document's `components.schemas` for its
/// `$ref`s. `None` for a channel the document does not have.
pub fn payload_schema(document: &Value, channel: &str) -> Option<Value> {
    message_part_schema(document, channel, "payload")
}

/// The JSON Schema (draft 7) of the attributes on channel `channel` of `document`, as a
/// JSON object of strings; standing alone like [`payload_schema`].
pub fn attributes_schema(document: &Value, channel: &str) -> Option<Value> {
    message_part_schema(document, channel, "headers")
}

fn message_part_schema(document: &Value, channel: &str, part: &str) -> Option<Value> {
    let channel = document.get("channels")?.get(channel)?;
    let message = channel.get("messages")?.as_object()?.values().next()?;
    let message = resolve(document, message)?;
    let schema = message.get(part)?.clone();
    Some(json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "allOf": [schema],
        "components": { "schemas": document.pointer(SCHEMAS)?.clone() },
    }))
}

/// The object a local `{"$ref": "#/..."}` points at, or `value` itself when it is none.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> Option<&'a Value> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => document.pointer(reference.strip_prefix('#')?),
        None => Some(value),
    }
}

/// Applied to every generated schema: a UUID's pattern, and descriptions (the types' doc
/// comments) without rustdoc's link brackets.
pub(super) fn tidy(schema: &mut Schema) {
    if schema.get("format").and_then(Value::as_str) == Some("uuid") {
        schema.insert("pattern".into(), UUID_PATTERN.into());
    }
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text = text.replace("[`", "`").replace("`]", "`");
    }
}

/// The attributes every message carries, as [`Envelope::to_attributes`] writes them and
/// [`Envelope::from_attributes`] requires them (each present and not empty).
pub(super) fn envelope_schema() -> Value {
    let text =
        |description: &str| json!({ "type": "string", "minLength": 1, "description": description });
    json!({
        "type": "object",
        "description": "The Pub/Sub attributes of every cartflow message (all strings). A \
                        dead-lettered message also carries Pub/Sub's own \
                        `CloudPubSubDeadLetterSource*` attributes.",
        "required": [EVENT_ID, EVENT_TYPE, EVENT_VERSION, CORRELATION_ID, CAUSATION_ID, PRODUCER, OCCURRED_AT],
        "properties": {
            EVENT_ID: {
                "type": "string",
                "format": "uuid",
                "pattern": UUID_PATTERN,
                "description": "Fixed when the event is first written to the outbox and kept \
                                on every re-publication (relay retries, dead-letter and \
                                event-log replays): consumers deduplicate on it.",
            },
            EVENT_TYPE: text("The topic's name: one topic carries one kind of event."),
            EVENT_VERSION: {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "The payload's version.",
            },
            CORRELATION_ID: text("The saga this event belongs to: the cart id for a checkout."),
            CAUSATION_ID: text("The event (or command) that caused this one."),
            PRODUCER: text("The publishing service."),
            OCCURRED_AT: {
                "type": "string",
                "format": "date-time",
                "description": "When the event was written to the outbox (RFC 3339, UTC).",
            },
            TRACE_PARENT: {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "The W3C `traceparent` of the publish span; present only while \
                                tracing is on. The consumer's span is its child.",
            },
        },
        "additionalProperties": { "type": "string" },
    })
}

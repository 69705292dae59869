//! The AsyncAPI 3.0 document of cartflow's topics, generated from what this crate
//! declares: the topology (who publishes each topic, every subscription with its
//! dead-letter topic, delivery attempts, retry backoff and ack deadline) and the
//! payload types (their JSON Schema, derived with `schemars`; an example of each,
//! serialised from a real value).
//!
//! `cartflow asyncapi` prints it; `docs/asyncapi.json` is its checked-in copy and
//! `scripts/check-infra.sh` fails when the two differ. The tests validate it against the
//! official AsyncAPI 3.0.0 JSON Schema (vendored in `docs/schemas/`), and every example
//! against its channel's payload and attributes schemas ([`payload_schema`],
//! [`attributes_schema`]).
//!
//! Layout: one channel per topic (address = topic name) and per dead-letter topic; one
//! message per topic in `components.messages`, its payload a `$ref` into
//! `components.schemas`; a `send` operation for the publishing service and a `receive`
//! operation per subscription, its Pub/Sub settings in `x-cartflow-subscription` (the
//! entry of `terraform/topology.json`, same fields).

mod examples;

use crate::envelope::{
    CAUSATION_ID, CORRELATION_ID, EVENT_ID, EVENT_TYPE, EVENT_VERSION, Envelope, OCCURRED_AT,
    PRODUCER, TRACE_PARENT,
};
use crate::topology::{DEFAULT_PROJECT, Manifest, SubscriptionEntry, TopicEntry};
use crate::{Event, Topic, Topology};
use schemars::Schema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::RecursiveTransform;
use serde_json::{Map, Value, json};

/// The AsyncAPI version the document follows.
pub const ASYNCAPI_VERSION: &str = "3.0.0";

/// Where `scripts/lib.sh` starts the emulator unless `PUBSUB_EMULATOR_HOST` says otherwise.
const EMULATOR_HOST: &str = "127.0.0.1:8085";

/// Where the payload and attribute schemas live in the document.
const SCHEMAS: &str = "/components/schemas";

/// A UUID as cartflow writes one (hyphenated). Draft 7 has no `uuid` format, so
/// validators would let anything through it: the pattern says it for them.
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// The schema of the attributes every message carries ([`Envelope`]).
const ATTRIBUTES_SCHEMA: &str = "EventAttributes";

/// One topic's payload: a `$ref` to its type's schema, and an example message.
pub(crate) struct Payload {
    topic: Topic,
    version: u32,
    schema: Value,
    example: Value,
}

impl Payload {
    fn of<E: Event>(generator: &mut SchemaGenerator, example: E) -> Payload {
        Payload {
            topic: E::TOPIC,
            version: E::VERSION,
            schema: generator.subschema_for::<E>().to_value(),
            example: serde_json::to_value(&example).expect("payloads serialise"),
        }
    }

    /// The attributes the outbox writes for this example, from the [`Envelope`] itself.
    fn example_attributes(&self) -> Value {
        let envelope = Envelope {
            event_id: uuid::Uuid::from_u128(0x6f7a_8b9c_adbe_4f50_9b6c_7d8e_9fa0_b1c2),
            event_type: self.topic.name().into(),
            event_version: self.version,
            correlation_id: examples::correlation(self.topic),
            causation_id: uuid::Uuid::from_u128(0x7a8b_9cad_becf_4061_8c7d_8e9f_a0b1_c2d3)
                .to_string(),
            producer: self.topic.publisher().name().into(),
            occurred_at: chrono::DateTime::from_timestamp(1_794_999_000, 123_000_000)
                .expect("a valid timestamp"),
        };
        let attributes: Map<String, Value> = envelope
            .to_attributes()
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        Value::Object(attributes)
    }
}

/// The AsyncAPI 3.0.0 document of `topology` (the declared one is `Topology::default()`).
pub fn document(topology: &Topology) -> Value {
    let mut generator = SchemaSettings::draft07()
        .with(|s| {
            s.definitions_path = SCHEMAS.into();
            // What the services write: the document describes the messages on the wire.
            s.contract = schemars::generate::Contract::Serialize;
            s.transforms.push(Box::new(RecursiveTransform(tidy)));
        })
        .into_generator();
    let payloads: Vec<Payload> = Topic::ALL
        .into_iter()
        .map(|topic| examples::payload(topic, &mut generator))
        .collect();
    let mut schemas = generator.take_definitions(true);
    schemas.insert(ATTRIBUTES_SCHEMA.into(), envelope_schema());

    let manifest = topology.manifest();
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    for payload in &payloads {
        let description = schemas
            .get(&ref_name(&payload.schema))
            .and_then(|s| s.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        messages.insert(payload.topic.name().into(), message(payload, &description));
    }
    let payload_on = |name: &str| {
        carried(name, &manifest)
            .and_then(|topic| payloads.iter().find(|p| p.topic == topic))
            .expect("every topic is a saga topic or a declared dead-letter topic")
    };
    for topic in &manifest.topics {
        let payload = payload_on(&topic.name);
        let channel = channel(topic, &manifest.subscriptions, payload, &schemas);
        if topic.publisher.is_some() {
            operations.insert(format!("send.{}", topic.name), send(topic, payload));
        }
        channels.insert(topic.name.clone(), channel);
    }
    for subscription in &manifest.subscriptions {
        let payload = payload_on(&subscription.topic);
        operations.insert(
            format!("receive.{}", subscription.name),
            receive(subscription, payload),
        );
    }

    json!({
        "asyncapi": ASYNCAPI_VERSION,
        "info": info(),
        "defaultContentType": "application/json",
        "servers": servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "correlationIds": {
                "saga": {
                    "description": "The saga the event belongs to: the cart id for a checkout \
                                    (kept from the event that caused it).",
                    "location": format!("$message.header#/{CORRELATION_ID}"),
                },
            },
        },
    })
}

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
fn tidy(schema: &mut Schema) {
    if schema.get("format").and_then(Value::as_str) == Some("uuid") {
        schema.insert("pattern".into(), UUID_PATTERN.into());
    }
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text = text.replace("[`", "`").replace("`]", "`");
    }
}

/// `"#/components/schemas/OrderCreated"` → `"OrderCreated"`.
fn ref_name(schema: &Value) -> String {
    let reference = schema
        .get("$ref")
        .and_then(Value::as_str)
        .unwrap_or_default();
    reference.rsplit('/').next().unwrap_or_default().to_string()
}

/// A JSON pointer token: `~` and `/` escaped (RFC 6901).
fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn channel_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/channels/{}", pointer_token(name)) })
}

fn channel_message_ref(channel: &str, topic: Topic) -> Value {
    json!({ "$ref": format!(
        "#/channels/{}/messages/{}",
        pointer_token(channel),
        pointer_token(topic.name())
    )})
}

/// The saga topic whose messages travel on topic `name`: the topic itself, or for a
/// dead-letter topic, the topic of the subscription it collects failures of.
fn carried(name: &str, manifest: &Manifest) -> Option<Topic> {
    Topic::from_name(name).or_else(|| {
        let entry = manifest.topics.iter().find(|t| t.name == name)?;
        let of = entry.dead_letter_of.as_ref()?;
        let subscription = manifest.subscriptions.iter().find(|s| &s.name == of)?;
        Topic::from_name(&subscription.topic)
    })
}

fn info() -> Value {
    json!({
        "title": "cartflow events",
        "version": env!("CARGO_PKG_VERSION"),
        "description": format!(
            "The topics of cartflow's checkout saga and catalog, as the code declares them \
             (crate `cartflow-events`: the topology and the payload types). Generated by \
             `cartflow asyncapi`; do not edit `docs/asyncapi.json` by hand.\n\n\
             Every message is a JSON body with string attributes (`{EVENT_ID}`, \
             `{EVENT_TYPE}`, `{EVENT_VERSION}`, `{CORRELATION_ID}`, `{CAUSATION_ID}`, \
             `{PRODUCER}`, `{OCCURRED_AT}`, and `{TRACE_PARENT}` while tracing is on). \
             Each service publishes only its own topics, through a transactional outbox: an \
             event is written with the change that caused it and published after the \
             commit, at least once, always with the same `{EVENT_ID}`; consumers \
             deduplicate on it (their inbox). Subscriptions are unordered and handlers do \
             not depend on delivery order; the outbox keeps an ordering key per event (the \
             cart id for the checkout, the order id for order events) but publishes \
             without it.\n\n\
             Each (topic, consuming service) pair has its own subscription with an \
             exponential retry policy and a dead-letter topic; the dead-letter topic has \
             a subscription of its own, which `cartflow dlq` lists and replays from. \
             Names are shown unprefixed: a deployment may put a prefix before every topic \
             and subscription (`CARTFLOW_TOPIC_PREFIX`; each test run uses its own)."
        ),
        "license": { "name": "Apache-2.0" },
    })
}

fn servers() -> Value {
    json!({
        "google-cloud": {
            "host": "pubsub.googleapis.com",
            "pathname": "/projects/{project}",
            "protocol": "googlepubsub",
            "title": "Google Cloud Pub/Sub",
            "description": "Production: Terraform (`terraform/`) creates the topics, \
                            subscriptions and publish/subscribe rights from \
                            `terraform/topology.json`. Services use Application Default \
                            Credentials; in push mode Pub/Sub delivers to each consuming \
                            service's `/pubsub/push` instead of streaming pull.",
            "variables": {
                "project": { "description": "The Google Cloud project (`PUBSUB_PROJECT_ID`)." },
            },
        },
        "emulator": {
            "host": "{emulator_host}",
            "pathname": "/projects/{project}",
            "protocol": "googlepubsub",
            "title": "Pub/Sub emulator",
            "description": "Development and tests: `scripts/dev.sh` and `scripts/test.sh` \
                            start the emulator, `cartflow provision` (and each service at \
                            start-up) creates the topology on it. No credentials.",
            "variables": {
                "emulator_host": {
                    "default": EMULATOR_HOST,
                    "description": "`PUBSUB_EMULATOR_HOST`.",
                },
                "project": {
                    "default": DEFAULT_PROJECT,
                    "description": "`PUBSUB_PROJECT_ID`.",
                },
            },
        },
    })
}

/// The attributes every message carries, as [`Envelope::to_attributes`] writes them and
/// [`Envelope::from_attributes`] requires them (each present and not empty).
fn envelope_schema() -> Value {
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

fn message(payload: &Payload, description: &str) -> Value {
    let topic = payload.topic;
    json!({
        "name": topic.name(),
        "title": topic.name(),
        "description": description,
        "contentType": "application/json",
        "headers": {
            "allOf": [{ "$ref": format!("#{SCHEMAS}/{ATTRIBUTES_SCHEMA}") }],
            "properties": {
                EVENT_TYPE: { "const": topic.name() },
                EVENT_VERSION: { "const": payload.version.to_string() },
                PRODUCER: { "const": topic.publisher().name() },
            },
        },
        "payload": payload.schema,
        "correlationId": { "$ref": "#/components/correlationIds/saga" },
        "examples": [{
            "name": topic.name(),
            "headers": payload.example_attributes(),
            "payload": payload.example,
        }],
    })
}

/// A topic's channel, whose messages carry `payload`.
fn channel(
    topic: &TopicEntry,
    subscriptions: &[SubscriptionEntry],
    payload: &Payload,
    schemas: &Map<String, Value>,
) -> Value {
    let source = payload.topic;
    let consumers: Vec<String> = subscriptions
        .iter()
        .filter(|s| s.topic == topic.name)
        .map(|s| match &s.consumer {
            Some(consumer) => format!("`{}` ({consumer})", s.name),
            None => format!("`{}` (for the operator: `cartflow dlq`)", s.name),
        })
        .collect();
    let description = match (&topic.publisher, &topic.dead_letter_of) {
        (Some(publisher), _) => {
            let what = schemas
                .get(&ref_name(&payload.schema))
                .and_then(|s| s.get("description"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!(
                "{what}\n\nPublished by {publisher}. Subscriptions: {}.",
                consumers.join(", ")
            )
        }
        (None, Some(of)) => format!(
            "Dead letters of subscription `{of}`: Pub/Sub moves a message of `{}` here \
             after its last failed delivery attempt. Read by its own subscription {}; `cartflow \
             dlq replay` publishes a message back to `{}` with its attributes (so its \
             event id) unchanged.",
            source.name(),
            consumers.join(", "),
            source.name(),
        ),
        (None, None) => unreachable!("a topic has a publisher or is a dead-letter topic"),
    };
    let mut channel = json!({
        "address": topic.name,
        "title": topic.name,
        "description": description,
        "messages": {
            source.name(): { "$ref": format!("#/components/messages/{}", pointer_token(source.name())) },
        },
    });
    // Pub/Sub's own channel binding (googlepubsub 0.2.0) requires Pub/Sub schema
    // settings, which cartflow does not use: the retention goes in an extension.
    channel["x-cartflow-message-retention"] =
        json!(format!("{}s", topic.message_retention_seconds));
    if let Some(publisher) = &topic.publisher {
        channel["x-cartflow-publisher"] = json!(publisher);
    }
    if let Some(of) = &topic.dead_letter_of {
        channel["x-cartflow-dead-letter-of"] = json!(of);
    }
    channel
}

fn send(topic: &TopicEntry, payload: &Payload) -> Value {
    let publisher = topic.publisher.as_deref().unwrap_or_default();
    json!({
        "action": "send",
        "channel": channel_ref(&topic.name),
        "messages": [channel_message_ref(&topic.name, payload.topic)],
        "title": format!("{publisher} publishes {}", topic.name),
        "description": format!(
            "Only {publisher} may publish `{}` (Terraform grants it alone). Through its \
             transactional outbox: written in the transaction of the change, published by \
             the relay after the commit.",
            topic.name
        ),
        "x-cartflow-service": publisher,
    })
}

fn receive(subscription: &SubscriptionEntry, payload: &Payload) -> Value {
    let description = match (&subscription.consumer, &subscription.dead_letter_topic) {
        (Some(consumer), Some(dead_letter)) => format!(
            "Subscription `{}`, consumed by {consumer} alone. A message is acked once its \
             handler's transaction has committed; a failure is redelivered with exponential \
             backoff from {}s to {}s, and after {} delivery attempts the message moves to \
             `{dead_letter}`. Ack deadline {}s (extended while a message is in progress); \
             an unacked message is kept {} days.",
            subscription.name,
            subscription.minimum_backoff_seconds.unwrap_or_default(),
            subscription.maximum_backoff_seconds.unwrap_or_default(),
            subscription.max_delivery_attempts.unwrap_or_default(),
            subscription.ack_deadline_seconds,
            subscription.message_retention_seconds / 86_400,
        ),
        _ => format!(
            "Subscription `{}`, where dead letters wait for the operator: `cartflow dlq \
             list` shows them, `cartflow dlq replay` publishes them back. Ack deadline {}s; \
             a dead letter is kept {} days.",
            subscription.name,
            subscription.ack_deadline_seconds,
            subscription.message_retention_seconds / 86_400,
        ),
    };
    let mut operation = json!({
        "action": "receive",
        "channel": channel_ref(&subscription.topic),
        "messages": [channel_message_ref(&subscription.topic, payload.topic)],
        "title": match &subscription.consumer {
            Some(consumer) => format!("{consumer} receives {}", subscription.topic),
            None => format!("the operator reads {}", subscription.topic),
        },
        "description": description,
        "x-cartflow-subscription": subscription,
    });
    if let Some(consumer) = &subscription.consumer {
        operation["x-cartflow-service"] = json!(consumer);
    }
    operation
}

#[cfg(test)]
mod tests;

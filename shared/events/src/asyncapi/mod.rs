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
mod parts;
mod schemas;

pub use schemas::{attributes_schema, payload_schema};

use crate::envelope::{CORRELATION_ID, Envelope};
use crate::topology::Manifest;
use crate::{Event, Topic, Topology};
use parts::{channel, info, message, receive, ref_name, send, servers};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::RecursiveTransform;
use schemas::{envelope_schema, tidy};
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

#[cfg(test)]
mod tests;

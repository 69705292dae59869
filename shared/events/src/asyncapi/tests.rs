use super::*;
use crate::Service;
use schemars::generate::SchemaSettings;

/// A named way to spoil a document or a payload.
type Breakage = (&'static str, fn(&mut Value));

fn declared() -> Value {
    document(&Topology::default())
}

/// The official AsyncAPI 3.0.0 schema, vendored (docs/schemas/README.md says from where).
/// Its definitions reference each other by `$id` URLs; they are all inside the file,
/// and the validator has no HTTP or file resolver, so every `$ref` resolves offline or
/// building fails.
fn asyncapi_validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schemas/asyncapi-3.0.0.json"
    );
    let text = std::fs::read_to_string(path).expect("docs/schemas/asyncapi-3.0.0.json exists");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft7::new(&schema).expect("the official schema compiles offline")
}

/// Every error, one per line, with where in the instance it is.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn schema_validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(schema)
        .expect("a payload schema compiles")
}

fn payload_validator(doc: &Value, channel: &str) -> jsonschema::Validator {
    let schema = payload_schema(doc, channel).unwrap_or_else(|| panic!("no payload for {channel}"));
    schema_validator(&schema)
}

fn example(doc: &Value, topic: Topic, part: &str) -> Value {
    doc["components"]["messages"][topic.name()]["examples"][0][part].clone()
}

#[test]
fn the_document_is_valid_asyncapi_3() {
    let validator = asyncapi_validator();
    let doc = declared();
    let found = errors(&validator, &doc);
    assert!(
        found.is_empty(),
        "not valid AsyncAPI 3.0.0:\n{}",
        found.join("\n")
    );
    assert_eq!(doc["asyncapi"], "3.0.0");
}

#[test]
fn the_official_schema_notices_a_broken_document() {
    let validator = asyncapi_validator();
    let breakages: [Breakage; 5] = [
        ("an AsyncAPI 2 action", |d| {
            d["operations"]["send.order-requested"]["action"] = json!("publish");
        }),
        ("no info version", |d| {
            d["info"].as_object_mut().unwrap().remove("version");
        }),
        ("a numeric channel address", |d| {
            d["channels"]["order.created"]["address"] = json!(42);
        }),
        ("an operation without its channel", |d| {
            let op = d["operations"]["receive.inventory.order-requested"]
                .as_object_mut()
                .unwrap();
            op.remove("channel");
        }),
        ("an extension without x-", |d| {
            d["channels"]["order.created"]["cartflow-publisher"] = json!("order");
        }),
    ];
    for (what, breakage) in breakages {
        let mut doc = declared();
        breakage(&mut doc);
        assert!(
            !errors(&validator, &doc).is_empty(),
            "the official schema accepted a document with {what}"
        );
    }
}

/// A `$ref` the schema cannot check: each must point at something in the document.
#[test]
fn every_reference_in_the_document_resolves() {
    fn walk(doc: &Value, value: &Value, found: &mut Vec<String>, count: &mut usize) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    *count += 1;
                    let target = reference.strip_prefix('#').and_then(|p| doc.pointer(p));
                    if target.is_none() {
                        found.push(reference.clone());
                    }
                }
                map.values().for_each(|v| walk(doc, v, found, count));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v, found, count)),
            _ => {}
        }
    }
    let doc = declared();
    let (mut dangling, mut count) = (Vec::new(), 0);
    walk(&doc, &doc, &mut dangling, &mut count);
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
    assert!(count > 100, "only {count} references: is the walk looking?");
}

#[test]
fn every_topic_has_its_payload_type() {
    let mut generator = SchemaSettings::draft07().into_generator();
    for topic in Topic::ALL {
        assert_eq!(examples::payload(topic, &mut generator).topic, topic);
    }
}

/// Each example is a real value of its payload type, serialised: it must be valid
/// against the schema derived from the same type, as must its attributes (written by
/// `Envelope::to_attributes`) against the attributes' hand-written schema.
#[test]
fn every_example_validates_against_its_channel() {
    let doc = declared();
    for topic in Topic::ALL {
        let payload = example(&doc, topic, "payload");
        assert!(payload.is_object(), "{topic} has an example payload");
        let found = errors(&payload_validator(&doc, topic.name()), &payload);
        assert!(found.is_empty(), "{topic}'s example:\n{}", found.join("\n"));

        let headers = attributes_schema(&doc, topic.name()).unwrap();
        let attributes = example(&doc, topic, "headers");
        let found = errors(&schema_validator(&headers), &attributes);
        assert!(
            found.is_empty(),
            "{topic}'s attributes:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn a_dead_letter_channel_carries_its_topics_messages() {
    let doc = declared();
    let channel = &doc["channels"]["inventory.order-requested.dead-letter"];
    assert_eq!(channel["address"], "inventory.order-requested.dead-letter");
    assert_eq!(
        channel["x-cartflow-dead-letter-of"],
        "inventory.order-requested"
    );
    assert_eq!(
        payload_schema(&doc, "inventory.order-requested.dead-letter"),
        payload_schema(&doc, "order-requested")
    );
    assert_eq!(payload_schema(&doc, "no-such-topic"), None);
    // Its attributes may be more (Pub/Sub's marks), never fewer.
    let attributes = schema_validator(
        &attributes_schema(&doc, "inventory.order-requested.dead-letter").unwrap(),
    );
    let mut marked = example(&doc, Topic::OrderRequested, "headers");
    marked["CloudPubSubDeadLetterSourceDeliveryCount"] = json!("5");
    assert!(attributes.is_valid(&marked));
    marked.as_object_mut().unwrap().remove("event_id");
    assert!(!attributes.is_valid(&marked), "an event without its id");
}

/// The schemas say something: payloads that break the types' rules fail them.
#[test]
fn the_payload_schemas_refuse_what_the_types_would() {
    let doc = declared();
    let requested = payload_validator(&doc, Topic::OrderRequested.name());
    let good = example(&doc, Topic::OrderRequested, "payload");
    assert!(requested.is_valid(&good));
    let breakages: [Breakage; 6] = [
        ("no customer_id", |p| {
            p.as_object_mut().unwrap().remove("customer_id");
        }),
        ("a quantity as text", |p| {
            p["items"][0]["quantity"] = json!("2")
        }),
        ("a SKU with a slash", |p| {
            p["items"][0]["product_sku"] = json!("a/b")
        }),
        ("a cart id that is no UUID", |p| {
            p["cart_id"] = json!("cart-1")
        }),
        ("an expiry that is no time", |p| {
            p["expires_at"] = json!("tomorrow")
        }),
        ("items as an object", |p| p["items"] = json!({})),
    ];
    for (what, breakage) in breakages {
        let mut payload = good.clone();
        breakage(&mut payload);
        assert!(
            !requested.is_valid(&payload),
            "order-requested accepted {what}"
        );
    }
    // A string enum lists its names.
    let delivery = payload_validator(&doc, Topic::DeliveryRequested.name());
    let mut payload = example(&doc, Topic::DeliveryRequested, "payload");
    assert!(delivery.is_valid(&payload));
    payload["deliveries"][0]["channel"] = json!("sms");
    assert!(
        !delivery.is_valid(&payload),
        "a channel that does not exist"
    );
}

#[test]
fn operations_follow_the_topology() {
    let doc = declared();
    let topology = Topology::default();
    let manifest = topology.manifest();
    let operations = doc["operations"].as_object().unwrap();
    assert_eq!(
        doc["channels"].as_object().unwrap().len(),
        topology.topics().len()
    );
    assert_eq!(
        operations.len(),
        Topic::ALL.len() + manifest.subscriptions.len(),
        "one send per topic, one receive per subscription"
    );
    for topic in Topic::ALL {
        let send = &operations[&format!("send.{topic}")];
        assert_eq!(send["action"], "send");
        assert_eq!(send["x-cartflow-service"], topic.publisher().name());
    }
    for sub in topology.subscriptions() {
        let receive = &operations[&format!("receive.{}", sub.name)];
        assert_eq!(receive["action"], "receive");
        assert_eq!(
            receive["channel"]["$ref"],
            format!("#/channels/{}", sub.topic)
        );
        assert_eq!(receive["x-cartflow-service"], sub.consumer.name());
        let policy = &receive["x-cartflow-subscription"];
        assert_eq!(policy["dead_letter_topic"], sub.dead_letter_topic.as_str());
        assert_eq!(policy["max_delivery_attempts"], sub.max_delivery_attempts);
        assert_eq!(
            policy["minimum_backoff_seconds"],
            sub.retry.minimum_backoff.as_secs()
        );
        assert_eq!(
            policy["maximum_backoff_seconds"],
            sub.retry.maximum_backoff.as_secs()
        );
        assert_eq!(policy["ack_deadline_seconds"], sub.ack_deadline_seconds);
        assert_eq!(
            policy["message_retention_seconds"],
            crate::topology::MESSAGE_RETENTION_SECONDS
        );
        assert_eq!(
            doc["channels"][sub.topic.name()]["x-cartflow-message-retention"],
            "604800s"
        );
        // The dead-letter topic is read by its own subscription.
        let parked = &operations[&format!("receive.{}", sub.dead_letter_topic)];
        assert_eq!(
            parked["channel"]["$ref"],
            format!("#/channels/{}", sub.dead_letter_topic)
        );
    }
    let inventory = operations
        .values()
        .filter(|op| op["action"] == "receive")
        .filter(|op| op["x-cartflow-service"] == Service::Inventory.name())
        .count();
    assert_eq!(
        inventory,
        topology.subscriptions_of(Service::Inventory).count()
    );
}

#[test]
fn the_document_is_the_same_every_time() {
    assert_eq!(declared(), declared());
}

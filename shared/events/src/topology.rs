//! The Pub/Sub topology, declared once. Provisioning (emulator and tests), the
//! consumers and (later) Terraform all read it, so they cannot drift apart.
//!
//! Every (topic, consuming service) pair gets its own subscription with a
//! dead-letter topic, that dead-letter topic's own subscription (so nothing
//! dead-lettered is lost), and an exponential retry policy. Subscriptions are
//! unordered: handlers never depend on delivery order, and the emulator cannot
//! combine ordering with dead-lettering (see PUBSUB-NOTES).

use crate::{Service, Topic};
use std::time::Duration;

/// The emulator's project id unless one is given (SPEC).
pub const DEFAULT_PROJECT: &str = "cartflow-local";

/// After this many failed deliveries a message moves to the dead-letter topic.
pub const MAX_DELIVERY_ATTEMPTS: i32 = 5;

/// Who consumes what. This table *is* the saga's choreography.
pub const CONSUMERS: &[(Topic, Service)] = &[
    // Inventory reserves and payment authorizes the total side by side; order makes
    // the order once it holds both answers. A decline releases the stock (or keeps it
    // from being reserved) and unlocks the cart; short stock voids the authorization
    // and unlocks the cart.
    (Topic::OrderRequested, Service::Inventory),
    (Topic::OrderRequested, Service::Payment),
    (Topic::StockAvailable, Service::Order),
    (Topic::PaymentAuthorized, Service::Order),
    (Topic::PaymentDeclined, Service::Inventory),
    (Topic::PaymentDeclined, Service::Cart),
    (Topic::StockRejected, Service::Cart),
    (Topic::StockRejected, Service::Payment),
    (Topic::OrderCreated, Service::Cart),
    (Topic::OrderCancelled, Service::Inventory),
    // A checkout past its expiry: order decides (it may already have the order), and
    // a given-up checkout unlocks the cart and releases any reservation.
    (Topic::CheckoutExpireRequested, Service::Order),
    (Topic::CheckoutExpired, Service::Cart),
    (Topic::CheckoutExpired, Service::Inventory),
    // Money follows the order: captured once it exists, voided when its checkout is
    // given up, refunded (or voided) when it is cancelled.
    (Topic::OrderCreated, Service::Payment),
    (Topic::CheckoutExpired, Service::Payment),
    (Topic::OrderCancelled, Service::Payment),
    // Every customer-facing outcome, and low stock, becomes a notification.
    (Topic::StockRejected, Service::Notification),
    (Topic::OrderCreated, Service::Notification),
    (Topic::OrderCancelled, Service::Notification),
    (Topic::OrderShipped, Service::Notification),
    (Topic::OrderDelivered, Service::Notification),
    (Topic::LowStock, Service::Notification),
    (Topic::CheckoutExpired, Service::Notification),
    (Topic::PaymentDeclined, Service::Notification),
    (Topic::PaymentCaptured, Service::Notification),
    (Topic::PaymentRefunded, Service::Notification),
    // Notification keeps its own copy of contact details.
    (Topic::CustomerCreated, Service::Notification),
    (Topic::CustomerUpdated, Service::Notification),
    (Topic::CustomerDeleted, Service::Notification),
    // A deleted customer's sign-in is refused wherever they could call.
    (Topic::CustomerDeleted, Service::Cart),
    // The cart keeps each customer's saved address, for a checkout that names none.
    (Topic::CustomerCreated, Service::Cart),
    (Topic::CustomerUpdated, Service::Cart),
    (Topic::CustomerDeleted, Service::Order),
    (Topic::CustomerDeleted, Service::EmailPush),
    // Delivery by email or push, and its outcome.
    (Topic::DeliveryRequested, Service::EmailPush),
    (Topic::DeliveryResult, Service::Notification),
    // Cart keeps its own copy of the catalog: adding to a cart needs no call to product.
    (Topic::ProductChanged, Service::Cart),
    // Catalog changes go out to the partners' webhooks (notification sends them all).
    (Topic::ProductChanged, Service::Notification),
];

/// Exponential redelivery backoff between `minimum` and `maximum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub minimum_backoff: Duration,
    pub maximum_backoff: Duration,
}

impl Default for RetryPolicy {
    /// A checkout is interactive: retry a transient failure after a second, and
    /// never wait more than a minute between attempts.
    fn default() -> Self {
        RetryPolicy {
            minimum_backoff: Duration::from_secs(1),
            maximum_backoff: Duration::from_secs(60),
        }
    }
}

/// One subscription of a consuming service, with its dead-letter plumbing.
/// Names here are short (unprefixed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    pub topic: Topic,
    pub consumer: Service,
    /// `<consumer>.<topic>`, e.g. `inventory.order-requested`.
    pub name: String,
    /// `<subscription>.dead-letter`; also the name of its own subscription.
    pub dead_letter_topic: String,
    pub max_delivery_attempts: i32,
    pub retry: RetryPolicy,
    pub ack_deadline_seconds: i32,
}

/// The whole topology, in short (unprefixed) names. The messaging crate's
/// `PubSubConfig` turns them into full, per-deployment-prefixed resource names.
#[derive(Debug, Clone)]
pub struct Topology {
    subscriptions: Vec<SubscriptionSpec>,
}

impl Default for Topology {
    fn default() -> Self {
        Self::with_retry(RetryPolicy::default())
    }
}

impl Topology {
    pub fn with_retry(retry: RetryPolicy) -> Self {
        let subscriptions = CONSUMERS
            .iter()
            .map(|&(topic, consumer)| {
                let name = format!("{}.{}", consumer.name(), topic.name());
                SubscriptionSpec {
                    topic,
                    consumer,
                    dead_letter_topic: format!("{name}.dead-letter"),
                    name,
                    max_delivery_attempts: MAX_DELIVERY_ATTEMPTS,
                    retry,
                    // The subscriber extends leases while a message is in progress, so
                    // this only bounds how soon a crashed consumer's messages return.
                    ack_deadline_seconds: 10,
                }
            })
            .collect();
        Topology { subscriptions }
    }

    /// Every topic to create: the saga's topics, then the dead-letter topics.
    pub fn topics(&self) -> Vec<String> {
        Topic::ALL
            .iter()
            .map(|t| t.name().to_string())
            .chain(
                self.subscriptions
                    .iter()
                    .map(|s| s.dead_letter_topic.clone()),
            )
            .collect()
    }

    pub fn subscriptions(&self) -> &[SubscriptionSpec] {
        &self.subscriptions
    }

    /// The subscriptions a service consumes from.
    pub fn subscriptions_of(&self, service: Service) -> impl Iterator<Item = &SubscriptionSpec> {
        self.subscriptions
            .iter()
            .filter(move |s| s.consumer == service)
    }
}

/// The topology as plain data, for Terraform and for checking a live project against
/// the code. `cartflow topology` prints it; `terraform/topology.json` is its checked-in
/// copy, and a test fails when the two differ.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub services: Vec<ServiceEntry>,
    pub topics: Vec<TopicEntry>,
    pub subscriptions: Vec<SubscriptionEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceEntry {
    pub name: String,
    pub port: u16,
    pub database: String,
    /// Topics this service publishes (and alone may publish).
    pub publishes: Vec<String>,
    /// Subscriptions this service consumes (and alone may consume).
    pub consumes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicEntry {
    pub name: String,
    /// The publishing service; for a dead-letter topic, Pub/Sub itself.
    pub publisher: Option<String>,
    /// For a dead-letter topic: the subscription whose failures it collects.
    pub dead_letter_of: Option<String>,
    /// How long the topic keeps a message (a `seek` can replay that far back).
    pub message_retention_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubscriptionEntry {
    pub name: String,
    pub topic: String,
    /// The consuming service; none for a dead-letter topic's parking subscription.
    pub consumer: Option<String>,
    pub dead_letter_topic: Option<String>,
    pub max_delivery_attempts: Option<i32>,
    pub minimum_backoff_seconds: Option<u64>,
    pub maximum_backoff_seconds: Option<u64>,
    pub ack_deadline_seconds: i32,
    pub enable_message_ordering: bool,
    /// How long an unacked message is kept (and so can be redelivered).
    pub message_retention_seconds: u64,
}

/// How long every topic and subscription keeps a message (Terraform sets it; it is
/// also Pub/Sub's default for a subscription, which the emulator's provisioning leaves).
pub const MESSAGE_RETENTION_SECONDS: u64 = 7 * 24 * 3600;

/// Ack deadline of a dead-letter topic's own subscription: short, so a message an
/// operator looked at (and let go) is visible again soon.
pub const PARKING_ACK_DEADLINE_SECONDS: i32 = 10;

impl Topology {
    pub fn manifest(&self) -> Manifest {
        let services = Service::ALL
            .iter()
            .map(|&service| ServiceEntry {
                name: service.name().into(),
                port: service.default_port(),
                database: service.database_name(),
                publishes: Topic::ALL
                    .iter()
                    .filter(|t| t.publisher() == service)
                    .map(|t| t.name().into())
                    .collect(),
                consumes: self
                    .subscriptions_of(service)
                    .map(|s| s.name.clone())
                    .collect(),
            })
            .collect();
        let topics = Topic::ALL
            .iter()
            .map(|t| TopicEntry {
                name: t.name().into(),
                publisher: Some(t.publisher().name().into()),
                dead_letter_of: None,
                message_retention_seconds: MESSAGE_RETENTION_SECONDS,
            })
            .chain(self.subscriptions.iter().map(|s| TopicEntry {
                name: s.dead_letter_topic.clone(),
                publisher: None,
                dead_letter_of: Some(s.name.clone()),
                message_retention_seconds: MESSAGE_RETENTION_SECONDS,
            }))
            .collect();
        let subscriptions = self
            .subscriptions
            .iter()
            .flat_map(|s| {
                [
                    SubscriptionEntry {
                        name: s.name.clone(),
                        topic: s.topic.name().into(),
                        consumer: Some(s.consumer.name().into()),
                        dead_letter_topic: Some(s.dead_letter_topic.clone()),
                        max_delivery_attempts: Some(s.max_delivery_attempts),
                        minimum_backoff_seconds: Some(s.retry.minimum_backoff.as_secs()),
                        maximum_backoff_seconds: Some(s.retry.maximum_backoff.as_secs()),
                        ack_deadline_seconds: s.ack_deadline_seconds,
                        enable_message_ordering: false,
                        message_retention_seconds: MESSAGE_RETENTION_SECONDS,
                    },
                    SubscriptionEntry {
                        name: s.dead_letter_topic.clone(),
                        topic: s.dead_letter_topic.clone(),
                        consumer: None,
                        dead_letter_topic: None,
                        max_delivery_attempts: None,
                        minimum_backoff_seconds: None,
                        maximum_backoff_seconds: None,
                        ack_deadline_seconds: PARKING_ACK_DEADLINE_SECONDS,
                        enable_message_ordering: false,
                        message_retention_seconds: MESSAGE_RETENTION_SECONDS,
                    },
                ]
            })
            .collect();
        Manifest {
            services,
            topics,
            subscriptions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_subscription_has_a_distinct_dead_letter_topic() {
        let topology = Topology::default();
        let topics: HashSet<_> = topology.topics().into_iter().collect();
        assert_eq!(topics.len(), Topic::ALL.len() + CONSUMERS.len());
        for sub in topology.subscriptions() {
            assert!(topics.contains(&sub.dead_letter_topic));
            assert!(topics.contains(sub.topic.name()));
            assert_eq!(sub.max_delivery_attempts, 5);
            assert!(sub.retry.minimum_backoff < sub.retry.maximum_backoff);
        }
        let names: HashSet<_> = topology.subscriptions().iter().map(|s| &s.name).collect();
        assert_eq!(names.len(), CONSUMERS.len());
    }

    #[test]
    fn names_are_valid_pubsub_resource_names() {
        // 3-255 chars, start with a letter, letters/digits/-_.~+% only.
        let topology = Topology::default();
        let all = topology
            .topics()
            .into_iter()
            .chain(topology.subscriptions().iter().map(|s| s.name.clone()));
        for name in all {
            assert!((3..=255).contains(&name.len()), "{name}");
            assert!(
                name.starts_with(|c: char| c.is_ascii_alphabetic()),
                "{name}"
            );
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~+%".contains(c)),
                "{name}"
            );
            assert!(!name.starts_with("goog"), "{name}");
        }
    }

    #[test]
    fn the_manifest_lists_every_resource_once() {
        let topology = Topology::default();
        let manifest = topology.manifest();
        assert_eq!(manifest.topics.len(), topology.topics().len());
        assert_eq!(manifest.subscriptions.len(), 2 * CONSUMERS.len());
        let published: usize = manifest.services.iter().map(|s| s.publishes.len()).sum();
        assert_eq!(published, Topic::ALL.len(), "each topic has one publisher");
        let consumed: usize = manifest.services.iter().map(|s| s.consumes.len()).sum();
        assert_eq!(consumed, CONSUMERS.len());
    }

    #[test]
    fn inventory_consumes_requests_declines_cancellations_and_expiries() {
        let topology = Topology::default();
        let topics: Vec<_> = topology
            .subscriptions_of(Service::Inventory)
            .map(|s| s.topic)
            .collect();
        assert_eq!(
            topics,
            vec![
                Topic::OrderRequested,
                Topic::PaymentDeclined,
                Topic::OrderCancelled,
                Topic::CheckoutExpired
            ]
        );
        let email_push: Vec<_> = topology
            .subscriptions_of(Service::EmailPush)
            .map(|s| s.topic)
            .collect();
        assert_eq!(
            email_push,
            vec![Topic::CustomerDeleted, Topic::DeliveryRequested],
            "deliveries, and whose sign-in to refuse"
        );
    }
}

//! The saga's contract, shared by every service: who the services are, which topics
//! exist, what each event carries, the envelope attributes on every message, and the
//! Pub/Sub topology (subscriptions, dead letters, retry policy) declared once as data.
//!
//! Nothing here talks to the network or a database; provisioning, the consumer, tests
//! and Terraform all read these definitions.

pub mod asyncapi;
pub mod envelope;
pub mod payloads;
pub mod service;
pub mod sku;
mod string_enum;
pub mod topics;
pub mod topology;

pub use envelope::{Envelope, EnvelopeError};
pub use payloads::*;
pub use service::Service;
pub use sku::Sku;
pub use topics::Topic;
pub use topology::{RetryPolicy, SubscriptionSpec, Topology};

#[doc(hidden)]
pub use schemars as __schemars;
#[doc(hidden)]
pub use serde as __serde;
#[doc(hidden)]
pub use utoipa as __utoipa;

/// An event payload that travels on exactly one topic with one type and version.
///
/// The event type is the topic's name: one topic carries one kind of event, so a
/// consumer can dispatch on either and they never disagree.
///
/// Its JSON Schema describes the payload in the AsyncAPI document ([`asyncapi`]).
pub trait Event:
    serde::Serialize + serde::de::DeserializeOwned + schemars::JsonSchema + Send + Sync
{
    const TOPIC: Topic;
    const VERSION: u32 = 1;

    /// Messages with the same key are delivered in publish order where the
    /// subscription asks for it: the cart id for the checkout, the order id for
    /// order events.
    fn ordering_key(&self) -> String;
}

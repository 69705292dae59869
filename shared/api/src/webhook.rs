//! Outgoing webhooks as notification's `/webhooks` routes show them: the endpoints staff
//! subscribed, their deliveries and each delivery's attempts. A signing secret is never
//! part of these: it is shown once, when created or rotated ([`CreatedSecret`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The event types an endpoint may subscribe to: the topics' names.
pub const EVENT_TYPES: [&str; 8] = [
    "order.created",
    "order.cancelled",
    "order.shipped",
    "order.delivered",
    "payment.captured",
    "payment.refunded",
    "inventory.low-stock",
    "product.changed",
];

/// A subscribed URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    /// `active` or `paused`.
    pub status: String,
    /// Why it is paused: by staff, or automatically after failing for too long.
    pub paused_reason: Option<String>,
    /// Since when every attempt failed; `None` while healthy.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Until when deliveries also carry the signature of the secret before the last
    /// rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Deliveries not yet delivered nor parked.
    pub pending: i64,
    pub created_at: DateTime<Utc>,
}

/// The answer to a creation or a rotation: the endpoint and its new secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` + base64 of the key.
    pub secret: String,
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The `webhook-id` header and the body's `id`.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `parked` (retries exhausted; replay sends it again).
    pub status: String,
    /// Attempts since it was queued or last replayed.
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One HTTP call of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    pub started_at: DateTime<Utc>,
    pub latency_ms: i32,
    /// `None` when no answer came (timeout, refused connection).
    pub status_code: Option<i32>,
    /// The start of the answer's body.
    pub response_head: Option<String>,
    pub error: Option<String>,
}

/// A delivery with its attempts, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts_made: Vec<Attempt>,
}

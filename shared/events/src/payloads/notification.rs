//! Notifications: a rendered message to deliver on a channel, and how it ended.

use crate::{Event, Topic};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::string_enum! {
    /// The way a notification reaches a person.
    pub enum Channel ("channel") {
        Email = "email",
        Push = "push",
    }
}

impl Channel {
    pub const BOTH: [Channel; 2] = [Channel::Email, Channel::Push];
}

/// notification → email-push: deliver this rendered notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryRequested {
    pub notification_id: Uuid,
    /// Whose it is (`None`: to staff, e.g. low stock); events older than this field
    /// have none.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    pub channel: Channel,
    /// An email address for email; the customer id for push.
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// email-push → notification: how a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryResult {
    pub notification_id: Uuid,
    pub channel: Channel,
    pub delivered: bool,
    pub attempts: i32,
    pub error: Option<String>,
}

event!(DeliveryRequested, Topic::DeliveryRequested, |e| e
    .notification_id);
event!(DeliveryResult, Topic::DeliveryResult, |e| e.notification_id);

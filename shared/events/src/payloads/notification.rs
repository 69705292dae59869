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

/// notification → email-push: deliver this rendered notification on each of its
/// channels. One request carries every channel of a message, so a checkout's news costs
/// one publish and one delivery on the way to email-push, not one per channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DeliveryRequested {
    /// Whose it is (`None`: to staff, e.g. low stock).
    pub customer_id: Option<Uuid>,
    /// The email's subject; the push's title.
    pub subject: String,
    /// One per channel, each its own notification; never empty.
    pub deliveries: Vec<Delivery>,
}

/// One channel's part of a [`DeliveryRequested`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Delivery {
    pub notification_id: Uuid,
    pub channel: Channel,
    /// An email address for email; the customer id for push.
    pub recipient: String,
    pub body: String,
}

/// Reads the current shape and, so that requests published before an upgrade are still
/// delivered after it, the earlier one: a single channel's fields at the top level.
impl<'de> Deserialize<'de> for DeliveryRequested {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            customer_id: Option<Uuid>,
            subject: String,
            deliveries: Option<Vec<Delivery>>,
            // The single-channel shape.
            notification_id: Option<Uuid>,
            channel: Option<Channel>,
            recipient: Option<String>,
            body: Option<String>,
        }
        let w = Wire::deserialize(deserializer)?;
        let deliveries = match (
            w.deliveries,
            w.notification_id,
            w.channel,
            w.recipient,
            w.body,
        ) {
            (Some(deliveries), ..) => deliveries,
            (None, Some(notification_id), Some(channel), Some(recipient), Some(body)) => {
                vec![Delivery {
                    notification_id,
                    channel,
                    recipient,
                    body,
                }]
            }
            _ => {
                return Err(serde::de::Error::custom(
                    "missing field `deliveries` (or, in the single-channel shape, one of \
                     `notification_id`, `channel`, `recipient`, `body`)",
                ));
            }
        };
        if deliveries.is_empty() {
            return Err(serde::de::Error::custom("`deliveries` must not be empty"));
        }
        Ok(DeliveryRequested {
            customer_id: w.customer_id,
            subject: w.subject,
            deliveries,
        })
    }
}

/// email-push → notification: how deliveries ended. An email reports the push of its
/// request beside its own first attempt, so a message usually costs one result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DeliveryResult {
    /// Never empty.
    pub outcomes: Vec<DeliveryOutcome>,
}

/// How one delivery (one notification on one channel) ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryOutcome {
    pub notification_id: Uuid,
    pub channel: Channel,
    pub delivered: bool,
    pub attempts: i32,
    pub error: Option<String>,
}

/// Reads the current shape and, for results published before an upgrade, the earlier
/// one: a single outcome's fields at the top level.
impl<'de> Deserialize<'de> for DeliveryResult {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Outcomes { outcomes: Vec<DeliveryOutcome> },
            One(DeliveryOutcome),
        }
        let outcomes = match Wire::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "expected `outcomes` (or, in the single-outcome shape, `notification_id`, \
                 `channel`, `delivered`, `attempts`, `error`)",
            )
        })? {
            Wire::Outcomes { outcomes } => outcomes,
            Wire::One(outcome) => vec![outcome],
        };
        if outcomes.is_empty() {
            return Err(serde::de::Error::custom("`outcomes` must not be empty"));
        }
        Ok(DeliveryResult { outcomes })
    }
}

event!(DeliveryRequested, Topic::DeliveryRequested, |e| e
    .deliveries
    .first()
    .map(|d| d.notification_id)
    .unwrap_or_default());
event!(DeliveryResult, Topic::DeliveryResult, |e| e
    .outcomes
    .first()
    .map(|o| o.notification_id)
    .unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_carries_every_channel_and_reads_back() {
        let request = DeliveryRequested {
            customer_id: Some(Uuid::from_u128(1)),
            subject: "Order confirmed".into(),
            deliveries: vec![
                Delivery {
                    notification_id: Uuid::from_u128(2),
                    channel: Channel::Email,
                    recipient: "jane@example.com".into(),
                    body: "Thank you.\nLines follow.".into(),
                },
                Delivery {
                    notification_id: Uuid::from_u128(3),
                    channel: Channel::Push,
                    recipient: Uuid::from_u128(1).to_string(),
                    body: "Thank you.".into(),
                },
            ],
        };
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire["deliveries"][1]["channel"], "push");
        let back: DeliveryRequested = serde_json::from_value(wire).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn a_request_in_the_single_channel_shape_is_still_read() {
        let old = json!({
            "notification_id": Uuid::from_u128(2),
            "customer_id": null,
            "channel": "email",
            "recipient": "stock@example.com",
            "subject": "Low stock",
            "body": "SKU-1 is low",
        });
        let read: DeliveryRequested = serde_json::from_value(old).unwrap();
        assert_eq!(read.customer_id, None);
        assert_eq!(read.subject, "Low stock");
        assert_eq!(
            read.deliveries,
            [Delivery {
                notification_id: Uuid::from_u128(2),
                channel: Channel::Email,
                recipient: "stock@example.com".into(),
                body: "SKU-1 is low".into(),
            }]
        );
    }

    #[test]
    fn a_request_with_nothing_to_deliver_is_refused_with_the_reason() {
        let none = json!({"subject": "s", "deliveries": []});
        let err = serde_json::from_value::<DeliveryRequested>(none).unwrap_err();
        assert!(err.to_string().contains("must not be empty"), "{err}");
        let half =
            json!({"subject": "s", "notification_id": Uuid::from_u128(2), "channel": "push"});
        let err = serde_json::from_value::<DeliveryRequested>(half).unwrap_err();
        assert!(
            err.to_string().contains("missing field `deliveries`"),
            "{err}"
        );
    }

    #[test]
    fn a_result_reads_back_and_the_single_outcome_shape_is_still_read() {
        let outcome = DeliveryOutcome {
            notification_id: Uuid::from_u128(2),
            channel: Channel::Email,
            delivered: false,
            attempts: 3,
            error: Some("550 no such user".into()),
        };
        let result = DeliveryResult {
            outcomes: vec![outcome.clone()],
        };
        let back: DeliveryResult =
            serde_json::from_value(serde_json::to_value(&result).unwrap()).unwrap();
        assert_eq!(back, result);
        let old: DeliveryResult = serde_json::from_value(serde_json::to_value(&outcome).unwrap())
            .expect("the single-outcome shape");
        assert_eq!(old, result);
        let empty = serde_json::from_value::<DeliveryResult>(json!({"outcomes": []}));
        assert!(empty.unwrap_err().to_string().contains("must not be empty"));
        let neither = serde_json::from_value::<DeliveryResult>(json!({"delivered": true}));
        assert!(
            neither
                .unwrap_err()
                .to_string()
                .contains("expected `outcomes`")
        );
    }
}

//! The one write path for a notification, shared by the handlers and the manual route:
//! record it once per channel (addressed by the domain's rules, one statement for all) and ask email-push to
//! deliver each one that has an address, in the caller's transaction.

use crate::domain::{self, Message, To};
use crate::store::{self, NewNotification, Notification};
use cartflow_events::{Channel, DeliveryRequested};
use cartflow_messaging::Tx;
use uuid::Uuid;

/// Records one notification per channel and stages a `delivery.requested` for each
/// that can be delivered. A channel without an address is recorded as failed with the
/// reason. With a `source_event_id`, a second call for the same source and channel
/// records nothing (and returns nothing for that channel).
pub async fn send(
    tx: &mut Tx,
    source_event_id: Option<Uuid>,
    to: To<'_>,
    message: &Message,
    channels: &[Channel],
) -> anyhow::Result<Vec<Notification>> {
    let addressed: Vec<_> = channels
        .iter()
        .map(|&channel| domain::address(channel, to, message))
        .collect();
    let new: Vec<NewNotification> = addressed
        .iter()
        .map(|addressed| NewNotification {
            customer_id: to.customer_id,
            kind: message.kind,
            channel: addressed.channel,
            recipient: addressed.recipient.as_deref(),
            subject: &message.subject,
            body: addressed.body,
            status: addressed.status(),
            refused: addressed.refused,
            source_event_id,
        })
        .collect();
    let mut recorded = store::insert(tx.conn(), &new).await?;
    recorded.sort_by_key(|n| channels.iter().position(|&c| c == n.channel));
    for notification in &recorded {
        let Some(addressed) = addressed.iter().find(|a| a.channel == notification.channel) else {
            continue;
        };
        if let Some(recipient) = &addressed.recipient {
            let request = DeliveryRequested {
                notification_id: notification.id,
                customer_id: to.customer_id,
                channel: addressed.channel,
                recipient: recipient.clone(),
                subject: message.subject.clone(),
                body: addressed.body.to_string(),
            };
            tx.publish(&request).await?;
        }
    }
    Ok(recorded)
}

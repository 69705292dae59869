//! The one write path for notifications, shared by the handlers and the manual route:
//! record each once per channel (addressed by the domain's rules, one statement for
//! all) and ask email-push to deliver each one that has an address, in the caller's
//! transaction.

use crate::domain::{self, Message, To};
use crate::store::{self, NewNotification, Notification};
use cartflow_events::{Channel, DeliveryRequested};
use cartflow_messaging::Tx;
use sqlx::PgConnection;
use uuid::Uuid;

/// A message to record on some channels for someone. With a `source_event_id`, it is
/// recorded once per source and channel: a second time records nothing.
pub struct Outgoing<'a> {
    pub source_event_id: Option<Uuid>,
    pub to: To<'a>,
    pub message: &'a Message,
    pub channels: &'a [Channel],
}

/// A notification just recorded, for the `outgoing` at `index`, and the delivery to
/// ask for (none when its channel has no address: it was recorded as failed).
pub struct Recorded {
    pub index: usize,
    pub notification: Notification,
    pub delivery: Option<DeliveryRequested>,
}

/// Records `outgoing`'s notifications with one statement: one per channel, a channel
/// without an address as failed with the reason. Returns those recorded, in the order
/// of `outgoing` and of its channels.
pub async fn record(
    conn: &mut PgConnection,
    outgoing: &[Outgoing<'_>],
) -> sqlx::Result<Vec<Recorded>> {
    let mut addressed = Vec::new();
    for (index, o) in outgoing.iter().enumerate() {
        for &channel in o.channels {
            addressed.push((
                index,
                Uuid::new_v4(),
                domain::address(channel, o.to, o.message),
            ));
        }
    }
    let new: Vec<NewNotification> = addressed
        .iter()
        .map(|(index, id, addressed)| {
            let o = &outgoing[*index];
            NewNotification {
                id: *id,
                customer_id: o.to.customer_id,
                kind: o.message.kind,
                channel: addressed.channel,
                recipient: addressed.recipient.as_deref(),
                subject: &o.message.subject,
                body: addressed.body,
                status: addressed.status(),
                refused: addressed.refused,
                source_event_id: o.source_event_id,
            }
        })
        .collect();
    let mut recorded: std::collections::HashMap<Uuid, Notification> = store::insert(conn, &new)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    Ok(addressed
        .into_iter()
        .filter_map(|(index, id, addressed)| {
            let notification = recorded.remove(&id)?;
            let o = &outgoing[index];
            let delivery = addressed.recipient.map(|recipient| DeliveryRequested {
                notification_id: id,
                customer_id: o.to.customer_id,
                channel: addressed.channel,
                recipient,
                subject: o.message.subject.clone(),
                body: addressed.body.to_string(),
            });
            Some(Recorded {
                index,
                notification,
                delivery,
            })
        })
        .collect())
}

/// [`record`] for one message, staging its delivery requests in `tx`.
pub async fn send(
    tx: &mut Tx,
    source_event_id: Option<Uuid>,
    to: To<'_>,
    message: &Message,
    channels: &[Channel],
) -> anyhow::Result<Vec<Notification>> {
    let outgoing = Outgoing {
        source_event_id,
        to,
        message,
        channels,
    };
    let recorded = record(tx.conn(), &[outgoing]).await?;
    let mut notifications = Vec::with_capacity(recorded.len());
    for r in recorded {
        if let Some(delivery) = &r.delivery {
            tx.publish(delivery).await?;
        }
        notifications.push(r.notification);
    }
    Ok(notifications)
}

//! The one write path for notifications, shared by the handlers and the manual route:
//! record each once per channel (addressed by the domain's rules, one statement for
//! all) and ask email-push, with one request per message, to deliver those that have
//! an address, in the caller's transaction.

use crate::domain::{self, Message, To};
use crate::store::{self, NewNotification, Notification};
use cartflow_events::{Channel, Delivery, DeliveryRequested};
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

/// The notifications just recorded for the `outgoing` at `index` (one per channel),
/// and the one delivery request for those with an address (none when no channel has
/// one: each was recorded as failed).
pub struct Recorded {
    pub index: usize,
    pub notifications: Vec<Notification>,
    pub delivery: Option<DeliveryRequested>,
}

/// Records `outgoing`'s notifications with one statement: one per channel, a channel
/// without an address as failed with the reason. Returns, in the order of `outgoing`,
/// those that recorded anything (a source recorded before records nothing again).
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
    let mut inserted: std::collections::HashMap<Uuid, Notification> = store::insert(conn, &new)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    let mut recorded: Vec<Recorded> = Vec::new();
    for (index, id, addressed) in addressed {
        let Some(notification) = inserted.remove(&id) else {
            continue;
        };
        if recorded.last().is_none_or(|r| r.index != index) {
            recorded.push(Recorded {
                index,
                notifications: Vec::new(),
                delivery: None,
            });
        }
        let r = recorded.last_mut().expect("pushed above");
        if let Some(recipient) = addressed.recipient {
            let o = &outgoing[index];
            r.delivery
                .get_or_insert_with(|| DeliveryRequested {
                    customer_id: o.to.customer_id,
                    subject: o.message.subject.clone(),
                    deliveries: Vec::new(),
                })
                .deliveries
                .push(Delivery {
                    notification_id: id,
                    channel: addressed.channel,
                    recipient,
                    body: addressed.body.to_string(),
                });
        }
        r.notifications.push(notification);
    }
    Ok(recorded)
}

/// [`record`] for one message, staging its one delivery request in `tx`.
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
    let Some(recorded) = record(tx.conn(), &[outgoing]).await?.pop() else {
        return Ok(Vec::new());
    };
    if let Some(delivery) = &recorded.delivery {
        tx.publish(delivery).await?;
    }
    Ok(recorded.notifications)
}

//! Email-push's reaction to `delivery.requested`: queue the email for the sender, or
//! deliver the push at once and report it.

use crate::sender::{EmailHandoff, Mailer};
use crate::store::{self, EmailRequest};
use async_trait::async_trait;
use cartflow_events::{Channel, DeliveryRequested, DeliveryResult, Topic};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Tx};
use std::sync::Arc;
use uuid::Uuid;

pub struct DeliveryHandler {
    /// This process's sender: a queued email goes to it in memory once committed.
    pub emails: EmailHandoff,
    /// Publish-before-response: the first attempt is made, and recorded, before the
    /// delivery request is answered; the sender only retries.
    pub send_now: Option<Arc<Mailer>>,
}

#[async_trait]
impl EventHandler for DeliveryHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        match event.topic() {
            Some(Topic::DeliveryRequested) => {}
            Some(Topic::CustomerDeleted) => return deleted::on_customer_deleted(tx, event).await,
            _ => return Err(event.unexpected()),
        }
        let request: DeliveryRequested = event.decode()?;
        match request.channel {
            Channel::Email => {
                let email = EmailRequest {
                    notification_id: request.notification_id,
                    customer_id: request.customer_id,
                    recipient: &request.recipient,
                    subject: &request.subject,
                    body: &request.body,
                    correlation_id: &event.envelope.correlation_id,
                    request_event_id: event.envelope.event_id,
                };
                if let Some(due) = store::queue_email(tx.conn(), &email, self.emails.lease).await? {
                    match &self.send_now {
                        Some(mailer) => {
                            let mailer = mailer.clone();
                            tx.after_commit_awaited(async move { mailer.send_now(due).await });
                        }
                        None => {
                            let emails = self.emails.clone();
                            tx.after_commit(move || emails.send(due));
                        }
                    }
                }
            }
            Channel::Push => {
                let customer: Uuid = request.recipient.parse().map_err(|_| {
                    HandlerError::Poison(format!(
                        "push recipient '{}' is not a customer id",
                        request.recipient
                    ))
                })?;
                let delivered = store::deliver_push(
                    tx.conn(),
                    request.notification_id,
                    customer,
                    &request.subject,
                    &request.body,
                )
                .await?;
                if delivered {
                    let result = DeliveryResult {
                        notification_id: request.notification_id,
                        channel: Channel::Push,
                        delivered: true,
                        attempts: 1,
                        error: None,
                    };
                    tx.publish(&result).await?;
                }
            }
        }
        Ok(())
    }
}

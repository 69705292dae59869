//! Email-push's reaction to `delivery.requested`: queue the email for the sender, or
//! deliver the push at once and report it. A batch's requests go in with a statement
//! per channel; a single message takes the same path with a batch of one.

use crate::sender::{EmailHandoff, Mailer};
use crate::store::{self, Due, EmailRequest, PushRequest};
use async_trait::async_trait;
use cartflow_events::{Channel, DeliveryRequested, DeliveryResult, Envelope, Topic};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Together, Tx, trace_context};
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
        let request = Request::of(event, trace_context::current())?;
        for (_, result) in self.deliver(tx, &[request]).await? {
            tx.publish(&result).await?;
        }
        Ok(())
    }

    /// A batch's delivery requests: its emails queued with one statement, its pushes
    /// delivered with another. Any other event, and a request that cannot be
    /// delivered, is left to `handle`, which refuses it alone.
    async fn handle_together(
        &self,
        tx: &mut Tx,
        batch: &Together<'_>,
    ) -> Result<Vec<bool>, HandlerError> {
        let requests = batch
            .pick(|i, event| Request::of(event, batch.in_span(i, trace_context::current)).ok());
        if !requests.items.is_empty() {
            for (k, result) in self.deliver(tx, &requests.items).await? {
                batch.publish(tx, requests.positions[k], &result).await?;
            }
        }
        Ok(batch.taken(&[&requests.positions]))
    }
}

/// A delivery request, checked, with what the email's sender needs of its message.
struct Request<'a> {
    request: DeliveryRequested,
    /// For a push: the customer whose inbox it goes to.
    push_to: Option<Uuid>,
    envelope: &'a Envelope,
    trace_parent: Option<String>,
}

impl<'a> Request<'a> {
    /// Decodes the request; poison if it can never be delivered.
    fn of(event: &'a Incoming, trace_parent: Option<String>) -> Result<Self, HandlerError> {
        let request: DeliveryRequested = event.decode()?;
        let push_to = match request.channel {
            Channel::Email => None,
            Channel::Push => Some(request.recipient.parse().map_err(|_| {
                HandlerError::Poison(format!(
                    "push recipient '{}' is not a customer id",
                    request.recipient
                ))
            })?),
        };
        Ok(Request {
            request,
            push_to,
            envelope: &event.envelope,
            trace_parent,
        })
    }
}

impl DeliveryHandler {
    /// Queues the emails and delivers the pushes of `requests`, a statement per
    /// channel. Returns the results to report, by the position of their request: one
    /// for each push that went in now (an email is reported by its sender).
    async fn deliver(
        &self,
        tx: &mut Tx,
        requests: &[Request<'_>],
    ) -> Result<Vec<(usize, DeliveryResult)>, HandlerError> {
        let emails: Vec<EmailRequest> = requests
            .iter()
            .filter(|r| r.push_to.is_none())
            .map(|r| EmailRequest {
                notification_id: r.request.notification_id,
                customer_id: r.request.customer_id,
                recipient: &r.request.recipient,
                subject: &r.request.subject,
                body: &r.request.body,
                correlation_id: &r.envelope.correlation_id,
                request_event_id: r.envelope.event_id,
                trace_parent: r.trace_parent.clone(),
            })
            .collect();
        if !emails.is_empty() {
            let queued = store::queue_emails(tx.conn(), &emails, self.emails.lease).await?;
            for due in queued.into_iter().flatten() {
                self.hand_over(tx, due);
            }
        }

        let (positions, pushes): (Vec<usize>, Vec<PushRequest>) = requests
            .iter()
            .enumerate()
            .filter_map(|(k, r)| {
                let customer_id = r.push_to?;
                Some((
                    k,
                    PushRequest {
                        notification_id: r.request.notification_id,
                        customer_id,
                        title: &r.request.subject,
                        body: &r.request.body,
                    },
                ))
            })
            .unzip();
        if pushes.is_empty() {
            return Ok(Vec::new());
        }
        let delivered = store::deliver_pushes(tx.conn(), &pushes).await?;
        Ok(positions
            .into_iter()
            .zip(delivered)
            .filter(|(_, delivered)| *delivered)
            .map(|(k, _)| {
                let result = DeliveryResult {
                    notification_id: requests[k].request.notification_id,
                    channel: Channel::Push,
                    delivered: true,
                    attempts: 1,
                    error: None,
                };
                (k, result)
            })
            .collect())
    }

    /// Gives a queued email to this process's sender once the transaction commits (or,
    /// publishing before the response, sends it before the message is answered).
    fn hand_over(&self, tx: &mut Tx, due: Due) {
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

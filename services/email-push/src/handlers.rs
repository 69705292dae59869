//! Email-push's reaction to `delivery.requested`: deliver each push at once, queue
//! each email for the sender, and report the push (with the email's first attempt when
//! the request had both, so a message costs one result). A batch's requests go in with a statement
//! per channel; a single message is a batch of one.

use crate::domain::push_delivered;
use crate::sender::{EmailHandoff, Mailer};
use crate::store::{self, Due, EmailRequest, PushRequest};
use async_trait::async_trait;
use cartflow_events::{
    Channel, CustomerDeleted, Delivery, DeliveryRequested, DeliveryResult, Topic,
};
use cartflow_kit::auth::deleted;
use cartflow_messaging::{Batch, EventHandler, HandlerError, Incoming, Run, Tx, trace_context};
use std::sync::Arc;
use tracing::Instrument;
use uuid::Uuid;

pub struct DeliveryHandler {
    /// This process's sender: a queued email goes to it in memory once committed.
    pub emails: EmailHandoff,
    /// Publish-before-response: the first attempt is made, and recorded, before the
    /// delivery request is answered; the sender only retries.
    pub send_now: Option<Arc<Mailer>>,
}

/// What email-push consumes, decoded.
pub enum DeliveryMessage {
    Requested(Request),
    CustomerDeleted(CustomerDeleted),
}

#[async_trait]
impl EventHandler for DeliveryHandler {
    type Message = DeliveryMessage;

    fn decode(&self, event: &Incoming) -> Result<DeliveryMessage, HandlerError> {
        Ok(match event.topic() {
            Some(Topic::DeliveryRequested) => DeliveryMessage::Requested(Request::of(event)?),
            Some(Topic::CustomerDeleted) => DeliveryMessage::CustomerDeleted(event.decode()?),
            _ => return Err(event.unexpected()),
        })
    }

    /// Consecutive delivery requests: their emails queued with one statement, their
    /// pushes delivered with another.
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        batch: &Batch<'_, DeliveryMessage>,
    ) -> Result<(), HandlerError> {
        for run in batch.runs_of(|m| match m {
            DeliveryMessage::Requested(request) => Some(request),
            DeliveryMessage::CustomerDeleted(_) => None,
        }) {
            match run {
                Run::Picked(run, requests) => {
                    for (k, result) in self.deliver(tx, &run, &requests).await? {
                        run.get(k).publish(tx, &result).await?;
                    }
                }
                Run::Rest(rest) => {
                    for item in rest.iter() {
                        if let DeliveryMessage::CustomerDeleted(gone) = item.message {
                            deleted::on_customer_deleted(tx, gone)
                                .instrument(item.span())
                                .await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A delivery request, checked.
pub struct Request {
    request: DeliveryRequested,
    /// Per delivery, for a push: the customer whose inbox it goes to.
    push_to: Vec<Option<Uuid>>,
}

impl Request {
    /// Decodes the request; poison if any of its deliveries can never be made.
    fn of(event: &Incoming) -> Result<Self, HandlerError> {
        let request: DeliveryRequested = event.decode()?;
        let push_to = request
            .deliveries
            .iter()
            .map(|d| match d.channel {
                Channel::Email => Ok(None),
                Channel::Push => d.recipient.parse().map(Some).map_err(|_| {
                    HandlerError::Poison(format!(
                        "push recipient '{}' is not a customer id",
                        d.recipient
                    ))
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Request { request, push_to })
    }

    /// Its deliveries, each with its push recipient (`None` for an email).
    fn deliveries(&self) -> impl Iterator<Item = (&Delivery, Option<Uuid>)> {
        self.request
            .deliveries
            .iter()
            .zip(self.push_to.iter().copied())
    }
}

impl DeliveryHandler {
    /// Delivers the pushes and queues the emails of `requests`, a statement per
    /// channel. Returns the results to report now, by the position of their request:
    /// the pushes that went in now, except one whose request also queued an email now,
    /// which the email's first attempt reports with its own (one result, not two).
    async fn deliver(
        &self,
        tx: &mut Tx,
        run: &Batch<'_, DeliveryMessage>,
        requests: &[&Request],
    ) -> Result<Vec<(usize, DeliveryResult)>, HandlerError> {
        let (positions, pushes): (Vec<usize>, Vec<PushRequest>) = requests
            .iter()
            .enumerate()
            .flat_map(|(k, r)| {
                r.deliveries().filter_map(move |(d, push_to)| {
                    Some((
                        k,
                        PushRequest {
                            notification_id: d.notification_id,
                            customer_id: push_to?,
                            title: &r.request.subject,
                            body: &d.body,
                        },
                    ))
                })
            })
            .unzip();
        let delivered = if pushes.is_empty() {
            Vec::new()
        } else {
            store::deliver_pushes(tx.conn(), &pushes).await?
        };
        // Per request, the pushes that went in now.
        let mut pushed: Vec<Vec<Uuid>> = vec![Vec::new(); requests.len()];
        for ((&k, push), delivered) in positions.iter().zip(&pushes).zip(delivered) {
            if delivered {
                pushed[k].push(push.notification_id);
            }
        }

        // A request's first email reports its first push.
        let mut emails: Vec<EmailRequest> = Vec::new();
        let mut reporting: Vec<Option<usize>> = Vec::new();
        for (k, (item, r)) in run.iter().zip(requests).enumerate() {
            // The sender's attempts continue this message's trace.
            let trace_parent = item.in_span(trace_context::current);
            let email_deliveries = r.deliveries().filter(|(_, push_to)| push_to.is_none());
            for (n, (d, _)) in email_deliveries.enumerate() {
                let reports = (n == 0).then(|| pushed[k].first().copied()).flatten();
                reporting.push(reports.map(|_| k));
                emails.push(EmailRequest {
                    notification_id: d.notification_id,
                    customer_id: r.request.customer_id,
                    recipient: &d.recipient,
                    subject: &r.request.subject,
                    body: &d.body,
                    correlation_id: &item.event.envelope.correlation_id,
                    request_event_id: item.event.envelope.event_id,
                    trace_parent: trace_parent.clone(),
                    reports_push: reports,
                });
            }
        }
        if !emails.is_empty() {
            let queued = store::queue_emails(tx.conn(), &emails, self.emails.lease).await?;
            let mut due = Vec::new();
            for (reporting, queued) in reporting.into_iter().zip(queued) {
                let Some(queued) = queued else { continue };
                if let Some(k) = reporting {
                    // Its push is reported by this email's first attempt, not now.
                    pushed[k].remove(0);
                }
                due.push(queued);
            }
            self.hand_over(tx, due);
        }
        // The rest, one result per request.
        Ok(pushed
            .into_iter()
            .enumerate()
            .filter(|(_, pushes)| !pushes.is_empty())
            .map(|(k, pushes)| {
                let outcomes = pushes.into_iter().map(push_delivered).collect();
                (k, DeliveryResult { outcomes })
            })
            .collect())
    }

    /// Gives the emails just queued to this process's sender once the transaction
    /// commits (or, publishing before the response, sends them, together, before the
    /// message is answered).
    fn hand_over(&self, tx: &mut Tx, due: Vec<Due>) {
        if due.is_empty() {
            return;
        }
        match &self.send_now {
            Some(mailer) => {
                let mailer = mailer.clone();
                tx.after_commit_awaited(async move { mailer.send_now(due).await });
            }
            None => {
                let emails = self.emails.clone();
                tx.after_commit(move || due.into_iter().for_each(|email| emails.send(email)));
            }
        }
    }
}

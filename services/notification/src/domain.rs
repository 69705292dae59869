//! Notification's rules, pure: what a notification is about, where each channel
//! reaches the person, how a delivery result settles it, and what a notification sent
//! by hand may say. The handlers and routes load, decide here, save and publish.

use cartflow_events::Channel;
use uuid::Uuid;

pub use cartflow_api::notification::{Kind, Status};

/// A rendered notification: the email subject and body; push uses the subject as its
/// title and the first line of the body as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub subject: String,
    pub body: String,
}

/// Who a notification is for.
#[derive(Debug, Clone, Copy)]
pub struct To<'a> {
    pub customer_id: Option<Uuid>,
    pub email: Option<&'a str>,
}

/// One channel's part of a notification: where it goes and what it says, or why it
/// cannot go at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed<'a> {
    pub channel: Channel,
    pub recipient: Option<String>,
    pub body: &'a str,
    /// Set when there is no address on this channel: recorded as failed, not sent.
    pub refused: Option<&'static str>,
}

impl Addressed<'_> {
    pub fn status(&self) -> Status {
        if self.refused.is_some() {
            Status::Failed
        } else {
            Status::Pending
        }
    }
}

/// Email goes to the address on file with the whole body; push goes to the customer
/// with the body's first line.
pub fn address<'m>(channel: Channel, to: To<'_>, message: &'m Message) -> Addressed<'m> {
    let (recipient, body, missing) = match channel {
        Channel::Email => (
            to.email.map(str::to_string),
            message.body.as_str(),
            "no email address on file",
        ),
        Channel::Push => (
            to.customer_id.map(|id| id.to_string()),
            message.body.lines().next().unwrap_or_default(),
            "push needs a customer",
        ),
    };
    Addressed {
        channel,
        refused: recipient.is_none().then_some(missing),
        recipient,
        body,
    }
}

pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 10_000;

/// A notification sent by hand, checked: trimmed text and at least one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manual {
    pub message: Message,
    pub channels: Vec<Channel>,
}

/// Checks what an operator sends; the error says what is wrong (422).
pub fn manual(subject: &str, body: &str, channels: Option<&[String]>) -> Result<Manual, String> {
    let subject = subject.trim();
    let body = body.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(format!(
            "subject must be 1 to {MAX_SUBJECT_CHARS} characters"
        ));
    }
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(format!("body must be 1 to {MAX_BODY_CHARS} characters"));
    }
    let channels = match channels {
        None => Channel::BOTH.to_vec(),
        Some([]) => return Err("channels must not be empty".into()),
        Some(names) => names
            .iter()
            .map(|n| n.parse::<Channel>())
            .collect::<Result<_, _>>()?,
    };
    Ok(Manual {
        message: Message {
            kind: Kind::Manual,
            subject: subject.to_string(),
            body: body.to_string(),
        },
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            kind: Kind::OrderConfirmed,
            subject: "Order confirmed".into(),
            body: "Thank you.\n\nLines follow.".into(),
        }
    }

    #[test]
    fn email_gets_the_whole_body_and_push_its_first_line() {
        let customer = Uuid::new_v4();
        let to = To {
            customer_id: Some(customer),
            email: Some("ann@example.com"),
        };
        let m = message();
        let email = address(Channel::Email, to, &m);
        assert_eq!(email.recipient.as_deref(), Some("ann@example.com"));
        assert_eq!(email.body, m.body);
        assert_eq!(email.status(), Status::Pending);
        let push = address(Channel::Push, to, &m);
        assert_eq!(push.recipient, Some(customer.to_string()));
        assert_eq!(push.body, "Thank you.");
    }

    #[test]
    fn a_channel_without_an_address_is_refused_with_the_reason() {
        let m = message();
        let nobody = To {
            customer_id: None,
            email: None,
        };
        let email = address(Channel::Email, nobody, &m);
        assert_eq!(email.refused, Some("no email address on file"));
        assert_eq!(email.status(), Status::Failed);
        let push = address(Channel::Push, nobody, &m);
        assert_eq!(push.refused, Some("push needs a customer"));
    }

    #[test]
    fn a_result_settles_a_notification_sent_or_failed() {
        assert_eq!(Status::settled(true), Status::Sent);
        assert_eq!(Status::settled(false), Status::Failed);
    }

    #[test]
    fn a_manual_notification_is_checked_and_trimmed() {
        let ok = manual("  Hello ", " Body ", None).unwrap();
        assert_eq!(ok.message.subject, "Hello");
        assert_eq!(ok.message.body, "Body");
        assert_eq!(ok.message.kind, Kind::Manual);
        assert_eq!(ok.channels, Channel::BOTH.to_vec());
        let push_only = manual("Hi", "There", Some(&["push".to_string()])).unwrap();
        assert_eq!(push_only.channels, vec![Channel::Push]);

        let long = "x".repeat(MAX_SUBJECT_CHARS + 1);
        for (subject, body, channels, error) in [
            (" ", "b", None, "subject must be 1 to 200 characters"),
            (
                long.as_str(),
                "b",
                None,
                "subject must be 1 to 200 characters",
            ),
            ("s", "", None, "body must be 1 to 10000 characters"),
            ("s", "b", Some(vec![]), "channels must not be empty"),
            (
                "s",
                "b",
                Some(vec!["fax".to_string()]),
                "unknown channel 'fax' (email, push)",
            ),
        ] {
            assert_eq!(
                manual(subject, body, channels.as_deref()).unwrap_err(),
                error
            );
        }
    }

    #[test]
    fn kinds_keep_their_stored_names() {
        assert_eq!(Kind::OrderConfirmed.as_str(), "order_confirmed");
        assert_eq!("low_stock".parse::<Kind>(), Ok(Kind::LowStock));
        assert_eq!("webhook_paused".parse::<Kind>(), Ok(Kind::WebhookPaused));
        assert_eq!(Kind::ALL.len(), 12);
    }
}

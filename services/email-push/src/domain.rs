//! Email-push's rules, pure: an email's statuses, what follows a failed send, and a
//! push's outcome.
//! The sender and the store act on these decisions; nothing here touches SMTP or SQL.

use cartflow_events::{Channel, DeliveryOutcome, string_enum};
use std::time::Duration;
use uuid::Uuid;

/// A push's outcome: it goes into the inbox with its request's transaction, so it is
/// delivered at the first attempt (whenever that is reported).
pub fn push_delivered(notification_id: Uuid) -> DeliveryOutcome {
    DeliveryOutcome {
        notification_id,
        channel: Channel::Push,
        delivered: true,
        attempts: 1,
        error: None,
    }
}

string_enum! {
    /// pending → sent, or pending → (retried while attempts remain) → failed.
    pub enum EmailStatus ("email status") {
        Pending = "pending",
        Sent = "sent",
        Failed = "failed",
    }
}

/// The longest wait between two attempts, however many failed before.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How failed sends are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles after each further one.
    pub base: Duration,
}

/// What a failed attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Pending again, tried after this wait.
    RetryIn(Duration),
    /// Failed for good: the notification is told so.
    GiveUp,
}

impl AfterFailure {
    pub fn status(self) -> EmailStatus {
        match self {
            AfterFailure::RetryIn(_) => EmailStatus::Pending,
            AfterFailure::GiveUp => EmailStatus::Failed,
        }
    }

    pub fn retry_in(self) -> Option<Duration> {
        match self {
            AfterFailure::RetryIn(wait) => Some(wait),
            AfterFailure::GiveUp => None,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `failures + 1`, after `failures` failed attempts:
    /// `base`, doubling, capped at [`MAX_BACKOFF`].
    pub fn backoff(&self, failures: i32) -> Duration {
        let factor = 1u32 << (failures.clamp(1, 16) - 1) as u32;
        (self.base * factor).min(MAX_BACKOFF)
    }

    /// After a failed attempt, when `earlier` attempts had failed before it: a
    /// permanent error (the server refused the address) or the last allowed attempt
    /// gives up; anything else is retried after the backoff.
    pub fn after_failure(&self, earlier: i32, permanent: bool) -> AfterFailure {
        let failures = earlier + 1;
        if permanent || failures >= self.max_attempts {
            AfterFailure::GiveUp
        } else {
            AfterFailure::RetryIn(self.backoff(failures))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(100),
    };

    #[test]
    fn backoff_doubles_and_is_capped() {
        let waits: Vec<u128> = (1..=4).map(|n| POLICY.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800]);
        assert_eq!(POLICY.backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn a_failure_is_retried_until_the_attempts_run_out() {
        assert_eq!(
            POLICY.after_failure(0, false),
            AfterFailure::RetryIn(Duration::from_millis(100))
        );
        assert_eq!(
            POLICY.after_failure(1, false),
            AfterFailure::RetryIn(Duration::from_millis(200))
        );
        let last = POLICY.after_failure(2, false);
        assert_eq!(last, AfterFailure::GiveUp);
        assert_eq!(last.status(), EmailStatus::Failed);
        assert_eq!(last.retry_in(), None);
    }

    #[test]
    fn a_permanent_error_gives_up_at_once() {
        assert_eq!(POLICY.after_failure(0, true), AfterFailure::GiveUp);
        assert_eq!(
            POLICY.after_failure(0, false).status(),
            EmailStatus::Pending
        );
    }
}

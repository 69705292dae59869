//! `GET /payments` and the reconciliation's report.

use cartflow_events::CardSummary;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

cartflow_events::string_enum! {
    /// Where a checkout's payment stands. A status ending in -ing waits for the
    /// provider; the others are settled (until the order changes).
    pub enum PaymentStatus ("payment status") {
        /// The authorization is being asked of the provider.
        Authorizing = "authorizing",
        /// The total is held on the card; the order is made from this.
        Authorized = "authorized",
        /// The provider refused (or there was no payment method): nothing is held.
        Declined = "declined",
        /// The order exists; the held total is being captured.
        Capturing = "capturing",
        /// The money is taken.
        Captured = "captured",
        /// The hold is being released (checkout given up, or order cancelled before capture).
        Voiding = "voiding",
        /// The hold was released: nothing taken.
        Voided = "voided",
        /// The order was cancelled after capture; the money is being returned.
        Refunding = "refunding",
        /// The money was returned.
        Refunded = "refunded",
        /// The checkout was given up before payment heard of it: nothing will be asked.
        Abandoned = "abandoned",
        /// The provider refused a capture, void or refund outright: an operator looks.
        Failed = "failed",
    }
}

impl PaymentStatus {
    /// Statuses that wait for the provider worker.
    pub const PENDING: [PaymentStatus; 4] = [
        PaymentStatus::Authorizing,
        PaymentStatus::Capturing,
        PaymentStatus::Voiding,
        PaymentStatus::Refunding,
    ];

    pub fn is_pending(self) -> bool {
        Self::PENDING.contains(&self)
    }
}

/// A checkout's payment as the payment service keeps it: the provider's references,
/// the token, and the card's brand and last four digits, never more of the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: Uuid,
    pub checkout_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    pub status: PaymentStatus,
    pub amount_cents: i64,
    pub currency: String,
    pub captured_cents: i64,
    pub refunded_cents: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardSummary>,
    /// The provider's PaymentIntent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// Provider calls made for the pending step so far, and the last failure.
    pub attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One way the payment records and the provider's ledger disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Difference {
    /// The provider's PaymentIntent, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    /// What differs, in a sentence.
    pub problem: String,
}

/// `GET /payments/reconciliation`: the records against the provider's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// Payments compared (settled ones; pending ones are listed apart).
    pub compared: usize,
    /// Intents the provider reported.
    pub provider_intents: usize,
    /// Captured minus refunded, in each book.
    pub records_net_cents: i64,
    pub provider_net_cents: i64,
    /// Payments still waiting for the provider: not differences yet.
    pub pending: Vec<Uuid>,
    pub differences: Vec<Difference>,
}

/// Whether `text` holds something shaped like a card number: 13 to 19 digits in a
/// row (single spaces, dashes, dots or slashes allowed between them), not part of a
/// longer word. Payment data never reaches a log or a
/// table: a request that holds one is refused before anything of it is kept.
pub fn holds_card_number(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let alnum = |k: usize| chars[k].is_ascii_alphanumeric();
    let mut i = 0;
    while i < chars.len() {
        // A run starts at a digit that does not continue a word (a UUID's hex group).
        if !chars[i].is_ascii_digit() || (i > 0 && alnum(i - 1)) {
            i += 1;
            continue;
        }
        // Groups of digits joined by single spaces or dashes.
        let (mut end, mut groups) = (i, vec![0usize]);
        while end < chars.len() {
            if chars[end].is_ascii_digit() {
                *groups.last_mut().expect("one group at least") += 1;
            } else if matches!(chars[end], ' ' | '-' | '.' | '/')
                && chars[end - 1].is_ascii_digit()
                && chars.get(end + 1).is_some_and(char::is_ascii_digit)
            {
                groups.push(0);
            } else {
                break;
            }
            end += 1;
        }
        let digits: usize = groups.iter().sum();
        // One block of digits, or a card's printed groups (4-4-4-4, 4-6-5): a UUID's
        // 12-digit group, a date or a phone number is none of these.
        let card_groups = groups.len() == 1 || groups.iter().all(|g| (4..=6).contains(g));
        let bounded = end == chars.len() || !alnum(end);
        if bounded && card_groups && (13..=19).contains(&digits) {
            return true;
        }
        i = end.max(i + 1);
    }
    false
}

/// A payment method token as providers issue them (`pm_…`): letters, digits and `_`,
/// at most 255 characters, and never anything that could be a card number.
pub fn check_payment_method(token: &str) -> Result<(), String> {
    if holds_card_number(token) {
        return Err("payment_method must be a payment method token, not card data".into());
    }
    let well_formed = token.starts_with("pm_")
        && token.len() <= 255
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Err("payment_method must be a payment method token such as pm_card_visa".into());
    }
    Ok(())
}

#[cfg(test)]
mod card_number_tests {
    use super::{check_payment_method, holds_card_number};

    #[test]
    fn card_shaped_digits_are_found_however_they_are_written() {
        assert!(holds_card_number("4242424242424242"));
        assert!(holds_card_number(
            r#"{"payment_method":"4000 0566 5566 5556"}"#
        ));
        assert!(holds_card_number("pm_5555-5555-5555-4444"));
        assert!(holds_card_number("4111111111111")); // 13 digits
        assert!(!holds_card_number("pm_card_visa"));
        assert!(!holds_card_number("123456789012")); // 12 digits
        assert!(!holds_card_number("550e8400-e29b-41d4-a716-446655440000"));
        assert!(!holds_card_number("12 34  56 78 90 12 34")); // two separators break the run
        assert!(!holds_card_number("postal code 12345, phone 555-0100"));
        assert!(!holds_card_number("12345678-1234-1234-1234-123456789012")); // 32 digits
        assert!(!holds_card_number("12345678901234567890")); // 20 digits
        assert!(holds_card_number("3782 822463 10005")); // an Amex's groups
        assert!(holds_card_number("4242.4242.4242.4242"));
        assert!(!holds_card_number("12/06/2026 19:29:52.869445"));
        // A UUID whose last two groups are digits: a 4-digit and a 12-digit group.
        assert!(!holds_card_number(
            "\"a1b2c3d4-e5f6-4a1b-8123-123456789012\""
        ));
    }

    #[test]
    fn only_tokens_are_payment_methods() {
        assert!(check_payment_method("pm_card_visa").is_ok());
        assert!(check_payment_method("pm_card_chargeDeclined").is_ok());
        assert!(check_payment_method("4242424242424242").is_err());
        assert!(check_payment_method("pm_4242424242424242").is_err());
        assert!(check_payment_method("card").is_err());
        assert!(check_payment_method("pm_card visa").is_err());
    }
}

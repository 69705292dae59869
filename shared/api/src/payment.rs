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
/// row (single spaces, dashes, dots or slashes allowed between a card's printed
/// groups), whatever surrounds them, so a number glued to a word (`Apt4242…`,
/// `pm_card4242…`) counts too. For what a client sends (a checkout's body, an
/// address): payment data never reaches a log or a table, so a request that holds one
/// is refused before anything of it is kept. A UUID never matches (its longest group
/// is 12 digits).
pub fn holds_card_number(text: &str) -> bool {
    card_shaped_run(&text.chars().collect::<Vec<_>>())
}

/// [`holds_card_number`] for text the platform wrote itself (a table's rows, a log),
/// which is full of hexadecimal identifiers: digits inside a hexadecimal word of 16
/// characters or more that holds a letter (a trace or span id, a hash, `bytea` as
/// text) are not counted, because 13 digits in a row turn up there by chance.
pub fn holds_card_number_among_ids(text: &str) -> bool {
    let mut chars: Vec<char> = text.chars().collect();
    let mut start = 0;
    while start < chars.len() {
        let end = (start..chars.len())
            .find(|&k| !chars[k].is_ascii_alphanumeric())
            .unwrap_or(chars.len());
        let word = &chars[start..end];
        // PostgreSQL writes bytea as `\x` and hex digits.
        let digits = word.strip_prefix(&['x']).unwrap_or(word);
        let hex = digits.iter().all(char::is_ascii_hexdigit)
            && digits.iter().any(char::is_ascii_alphabetic);
        if digits.len() >= 16 && hex {
            chars[start..end].fill('x');
        }
        start = end + 1;
    }
    card_shaped_run(&chars)
}

/// The search itself: each maximal run of digits and single separators between them.
fn card_shaped_run(chars: &[char]) -> bool {
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Groups of digits joined by single separators.
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
        // A card's printed groups (4-4-4-4, 4-6-5), or one block of 13 to 19 digits
        // anywhere in the run: a UUID's 12-digit group, a date or a phone number is
        // neither.
        let printed = groups.iter().all(|g| (4..=6).contains(g)) && (13..=19).contains(&digits);
        if printed || groups.iter().any(|g| (13..=19).contains(g)) {
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
    use super::{check_payment_method, holds_card_number, holds_card_number_among_ids};

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
        // Glued to a word, or to another group, a card number is still one.
        assert!(holds_card_number(
            r#"{"payment_method":"pm_card4242424242424242"}"#
        ));
        assert!(holds_card_number(r#"{"line2":"Apt4242424242424242"}"#));
        assert!(holds_card_number("a4242424242424242"));
        assert!(holds_card_number("1.4242424242424242"));
        assert!(holds_card_number("4242424242424242x"));
    }

    #[test]
    fn identifiers_the_platform_writes_are_not_card_numbers() {
        // A trace context whose ids hold 13 and 14 digits in a row, and a bytea hash.
        let traceparent = "00-4bf92f3512345678901234a6a3ce929d-00f0678901234567-01";
        assert!(
            holds_card_number(traceparent),
            "the strict search sees the digits"
        );
        assert!(!holds_card_number_among_ids(traceparent));
        assert!(!holds_card_number_among_ids(
            r"(\x3f2a1234567890123456ffee00112233)"
        ));
        // A card number in such text is still found, alone or glued to a short word.
        assert!(holds_card_number_among_ids(&format!(
            "{traceparent} 4242424242424242"
        )));
        assert!(holds_card_number_among_ids(
            "{\"line2\": \"Apt4242424242424242\"}"
        ));
        assert!(holds_card_number_among_ids("pm_card4242424242424242"));
    }

    #[test]
    fn only_tokens_are_payment_methods() {
        assert!(check_payment_method("pm_card_visa").is_ok());
        assert!(check_payment_method("pm_card_chargeDeclined").is_ok());
        assert!(check_payment_method("4242424242424242").is_err());
        assert!(check_payment_method("pm_4242424242424242").is_err());
        assert!(check_payment_method("pm_card4242424242424242").is_err());
        assert!(check_payment_method("card").is_err());
        assert!(check_payment_method("pm_card visa").is_err());
    }
}

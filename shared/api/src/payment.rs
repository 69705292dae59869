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
/// row wherever they stand, so a number glued to a word (`Apt4242…`, `pm_card4242…`)
/// counts too; or a card's printed groups (4 to 6 digits each, 13 to 19 in all, joined
/// by single spaces, dashes, dots, slashes or underscores, with or without more groups
/// after them, such as an expiry) standing apart from any word. For what a client sends
/// (a checkout's body, an address): payment data never reaches a log or a table, so a
/// request that holds one is refused before anything of it is kept. A UUID never
/// matches: its groups are 8-4-4-4-12, and only three of 4 are card-sized.
pub fn holds_card_number(text: &str) -> bool {
    card_shaped(&text.chars().collect::<Vec<_>>())
}

/// [`holds_card_number`] for text the platform wrote itself (a table's rows, a log),
/// which holds identifiers in which 13 digits in a row turn up by chance: a trace
/// context's ids, `bytea` as text, and hexadecimal digests are left out of the search.
pub fn holds_card_number_among_ids(text: &str) -> bool {
    let mut chars: Vec<char> = text.chars().collect();
    blank_trace_contexts(&mut chars);
    let mut start = 0;
    while start < chars.len() {
        let end = (start..chars.len())
            .find(|&k| !chars[k].is_ascii_alphanumeric())
            .unwrap_or(chars.len());
        let word = &chars[start..end];
        let hex = |w: &[char]| w.iter().all(char::is_ascii_hexdigit);
        // PostgreSQL writes bytea as `\x` and hex digits; a digest or a trace id is 32
        // hex digits or more.
        let bytea = start > 0
            && chars[start - 1] == '\\'
            && word.len() > 1
            && word[0] == 'x'
            && hex(&word[1..]);
        let digest = word.len() >= 32 && hex(word) && word.iter().any(char::is_ascii_alphabetic);
        if bytea || digest {
            chars[start..end].fill('x');
        }
        start = end + 1;
    }
    card_shaped(&chars)
}

/// Blanks the trace and span ids of each W3C trace context
/// (`00-<32 hex>-<16 hex>-<2 hex>`), which may be all digits.
fn blank_trace_contexts(chars: &mut [char]) {
    const FIELDS: [usize; 4] = [2, 32, 16, 2];
    let length = FIELDS.iter().sum::<usize>() + FIELDS.len() - 1;
    let hex = |c: &char| c.is_ascii_hexdigit();
    let mut i = 0;
    while i + length <= chars.len() {
        let (mut at, mut fits) = (i, i == 0 || !chars[i - 1].is_ascii_alphanumeric());
        for (n, field) in FIELDS.iter().enumerate() {
            fits = fits && chars[at..at + field].iter().all(hex);
            at += field;
            if n + 1 < FIELDS.len() {
                fits = fits && chars[at] == '-';
                at += 1;
            }
        }
        fits = fits && chars.get(at).is_none_or(|c| !c.is_ascii_alphanumeric());
        if fits {
            chars[i + 3..i + 35].fill('x');
            chars[i + 36..i + 52].fill('x');
            i += length;
        } else {
            i += 1;
        }
    }
}

/// The search itself, over each maximal run of digits and single separators.
fn card_shaped(chars: &[char]) -> bool {
    let glued = |k: usize| chars.get(k).is_some_and(char::is_ascii_alphanumeric);
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
            } else if matches!(chars[end], ' ' | '-' | '.' | '/' | '_')
                && chars[end - 1].is_ascii_digit()
                && chars.get(end + 1).is_some_and(char::is_ascii_digit)
            {
                groups.push(0);
            } else {
                break;
            }
            end += 1;
        }
        let one_block = groups.iter().any(|g| (13..=19).contains(g));
        let apart = (i == 0 || !glued(i - 1)) && !glued(end);
        if one_block || (apart && printed_card(&groups)) {
            return true;
        }
        i = end.max(i + 1);
    }
    false
}

/// Whether consecutive groups of the run, each of 4 to 6 digits, make 13 to 19 digits:
/// a card as it is printed (4-4-4-4, 4-6-5), followed or not by more.
fn printed_card(groups: &[usize]) -> bool {
    (0..groups.len()).any(|first| {
        let mut digits = 0;
        for group in groups[first..].iter().take_while(|g| (4..=6).contains(*g)) {
            digits += group;
            if (13..=19).contains(&digits) {
                return true;
            }
        }
        false
    })
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
        // Printed groups with more after them (a CVC, an expiry), or joined by `_`.
        assert!(holds_card_number("4242 4242 4242 4242 123"));
        assert!(holds_card_number("4242-4242-4242-4242-123"));
        assert!(holds_card_number("4242 4242 4242 4242 12/26"));
        assert!(check_payment_method("pm_4242_4242_4242_4242").is_err());
    }

    #[test]
    fn no_uuid_is_a_card_number() {
        for uuid in [
            "ec987024-1248-4039-a072-2f224b6698a5",
            "deadbeef-1234-5678-9012-3456abcdef00",
            "12345678-1234-5678-9012-345678901234",
        ] {
            assert!(!holds_card_number(uuid), "{uuid}");
        }
        for _ in 0..100_000 {
            let uuid = uuid::Uuid::new_v4().to_string();
            assert!(!holds_card_number(&uuid), "{uuid}");
            assert!(!holds_card_number(&uuid.to_uppercase()), "{uuid}");
        }
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
        assert!(holds_card_number_among_ids("Bed4242424242424242"));
        // A span id may be all digits: inside a trace context it is an id all the same.
        let all_digits = "00-0af7651916cd43dd8448eb211c80319c-1234567890123456-01";
        assert!(!holds_card_number_among_ids(all_digits));
        assert!(!holds_card_number_among_ids(&format!(
            "\"traceparent\":\"{all_digits}\""
        )));
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

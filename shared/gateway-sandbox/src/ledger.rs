//! What the sandbox was asked to do, as `GET /sandbox/ledger` answers it: typed, so
//! that tests elsewhere (and the reconciliation's tests) can read it.
//!
//! Amounts are integer minor units (cents) in each intent's currency; the totals add
//! up every currency (cartflow charges one).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A PaymentIntent's status, as Stripe spells it (the ones the sandbox reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Declined: nothing held.
    RequiresPaymentMethod,
    /// Authorized: `amount_capturable` held on the card.
    RequiresCapture,
    /// Captured.
    Succeeded,
    /// Voided (or abandoned after a decline).
    Canceled,
}

impl IntentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::RequiresCapture => "requires_capture",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Every intent, oldest first (declined ones too: Stripe keeps them).
    pub intents: Vec<LedgerIntent>,
    /// Every refund, oldest first.
    pub refunds: Vec<LedgerRefund>,
    pub counts: LedgerCounts,
    pub totals: LedgerTotals,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerIntent {
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub status: IntentStatus,
    /// Held now (authorized, not yet captured or voided).
    pub amount_capturable: i64,
    /// Captured.
    pub amount_received: i64,
    /// Refunded, out of `amount_received`.
    pub amount_refunded: i64,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    /// The test token it was made with.
    pub payment_method: String,
    pub brand: String,
    pub last4: String,
    /// Set when the card was declined (`generic_decline`, `insufficient_funds`).
    pub decline_code: Option<String>,
    /// The key of the request that created it.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRefund {
    pub id: String,
    pub created: i64,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: String,
    /// Always `succeeded` in the sandbox.
    pub status: String,
    pub idempotency_key: Option<String>,
}

/// How many times each operation happened (a replayed request counts once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerCounts {
    /// Approved authorizations.
    pub authorizations: u64,
    pub declines: u64,
    pub captures: u64,
    /// Cancels of an authorized intent (money released).
    pub voids: u64,
    pub refunds: u64,
    /// Requests with a key already used, answered from it (a replay) or refused while
    /// its first request was in flight: a client asking the same thing again.
    #[serde(default)]
    pub repeated: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTotals {
    /// Held now: authorized, neither captured nor voided.
    pub capturable: i64,
    pub captured: i64,
    pub refunded: i64,
    /// `captured - refunded`: what the merchant keeps.
    pub net: i64,
}

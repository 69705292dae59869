//! The sandbox's memory: intents, refunds, idempotency keys, the outage switch. One
//! mutex, never held across an await.

use crate::SandboxSettings;
use crate::idempotency::KeyEntry;
use crate::ledger::{IntentStatus, Ledger, LedgerCounts, LedgerIntent, LedgerRefund, LedgerTotals};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a test token does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    Approve,
    /// `card_declined` with this decline code and message.
    Decline {
        decline_code: &'static str,
        message: &'static str,
    },
    /// Approves; the first request for an idempotency key answers after `slow_ms`.
    Slow,
    /// The first request for an idempotency key fails with a 500; then approves.
    Flaky,
}

/// A test payment method: what the provider reports about the card behind a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TestCard {
    pub token: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    pub behaviour: Behaviour,
}

const GENERIC_DECLINE: Behaviour = Behaviour::Decline {
    decline_code: "generic_decline",
    message: "Your card was declined.",
};
const INSUFFICIENT_FUNDS: Behaviour = Behaviour::Decline {
    decline_code: "insufficient_funds",
    message: "Your card has insufficient funds.",
};

/// Stripe's test tokens (brand and last four as Stripe reports them), and the two the
/// sandbox adds to exercise timeouts and retries.
pub(crate) const TEST_CARDS: &[TestCard] = &[
    TestCard {
        token: "pm_card_visa",
        brand: "visa",
        last4: "4242",
        behaviour: Behaviour::Approve,
    },
    TestCard {
        token: "pm_card_mastercard",
        brand: "mastercard",
        last4: "4444",
        behaviour: Behaviour::Approve,
    },
    TestCard {
        token: "pm_card_chargeDeclined",
        brand: "visa",
        last4: "0002",
        behaviour: GENERIC_DECLINE,
    },
    TestCard {
        token: "pm_card_chargeDeclinedInsufficientFunds",
        brand: "visa",
        last4: "9995",
        behaviour: INSUFFICIENT_FUNDS,
    },
    TestCard {
        token: "pm_card_slow",
        brand: "visa",
        last4: "4242",
        behaviour: Behaviour::Slow,
    },
    TestCard {
        token: "pm_card_flaky",
        brand: "visa",
        last4: "4242",
        behaviour: Behaviour::Flaky,
    },
];

pub(crate) fn test_card(token: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|card| card.token == token)
}

#[derive(Debug, Clone)]
pub(crate) struct Decline {
    pub decline_code: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct Intent {
    pub id: String,
    pub charge_id: String,
    pub client_secret: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub capture_method: String,
    pub status: IntentStatus,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub amount_refunded: i64,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub card: &'static TestCard,
    pub decline: Option<Decline>,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub id: String,
    pub created: i64,
    pub payment_intent: String,
    pub charge_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub down: bool,
    /// Oldest first.
    pub intents: Vec<Intent>,
    /// Oldest first.
    pub refunds: Vec<Refund>,
    pub keys: HashMap<String, KeyEntry>,
    /// Keys whose first `pm_card_flaky` request has failed already.
    pub flaky_failed: HashSet<String>,
    pub counts: LedgerCounts,
}

impl Inner {
    pub fn intent_mut(&mut self, id: &str) -> Option<&mut Intent> {
        self.intents.iter_mut().find(|i| i.id == id)
    }
}

pub(crate) struct Shared {
    pub settings: SandboxSettings,
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(settings: SandboxSettings) -> Self {
        Shared {
            settings,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
        tracing::info!(down, "gateway sandbox outage switched");
    }

    pub fn ledger(&self) -> Ledger {
        let inner = self.lock();
        let intents: Vec<LedgerIntent> = inner
            .intents
            .iter()
            .map(|i| LedgerIntent {
                id: i.id.clone(),
                created: i.created,
                amount: i.amount,
                currency: i.currency.clone(),
                status: i.status,
                amount_capturable: i.amount_capturable,
                amount_received: i.amount_received,
                amount_refunded: i.amount_refunded,
                metadata: i.metadata.clone(),
                description: i.description.clone(),
                payment_method: i.card.token.to_string(),
                brand: i.card.brand.to_string(),
                last4: i.card.last4.to_string(),
                decline_code: i.decline.as_ref().map(|d| d.decline_code.to_string()),
                idempotency_key: i.idempotency_key.clone(),
            })
            .collect();
        let refunds = inner
            .refunds
            .iter()
            .map(|r| LedgerRefund {
                id: r.id.clone(),
                created: r.created,
                payment_intent: r.payment_intent.clone(),
                amount: r.amount,
                currency: r.currency.clone(),
                status: "succeeded".into(),
                idempotency_key: r.idempotency_key.clone(),
            })
            .collect();
        let captured = intents.iter().map(|i| i.amount_received).sum();
        let refunded = intents.iter().map(|i| i.amount_refunded).sum();
        let totals = LedgerTotals {
            capturable: intents.iter().map(|i| i.amount_capturable).sum(),
            captured,
            refunded,
            net: captured - refunded,
        };
        Ledger {
            intents,
            refunds,
            counts: inner.counts.clone(),
            totals,
        }
    }
}

/// `prefix_` and 24 random letters and digits, like Stripe's ids (mostly letters: no
/// long run of digits that could pass for a card number).
pub(crate) fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let random = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let suffix: String = random
        .iter()
        .flat_map(|u| u.as_bytes().iter().copied())
        .take(24)
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect();
    format!("{prefix}_{suffix}")
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

//! What the provider client takes and gives back, and the subset of Stripe's JSON it
//! reads (only the fields cartflow needs; everything else is ignored).

use serde::Deserialize;
use std::collections::BTreeMap;

/// Authorize `amount_cents` on a payment method token, for one checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorize {
    /// Derived from the checkout: a retried authorization never charges twice.
    pub idempotency_key: String,
    pub amount_cents: i64,
    /// ISO 4217, any case (sent lower case, as Stripe writes it).
    pub currency: String,
    /// A token from the provider's client-side library (`pm_...`), never a card number.
    pub payment_method: String,
    /// Sent as `metadata[checkout_id]`, so the provider's ledger names the checkout.
    pub checkout_id: String,
}

/// The provider's answer to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The amount is held on the card until captured or canceled.
    Approved {
        intent_id: String,
        amount_cents: i64,
        /// As the provider reports it (`visa`, `mastercard`); `None` if it did not say.
        brand: Option<String>,
        last4: Option<String>,
    },
    /// Nothing is held. `code` is Stripe's (`card_declined`), `decline_code` the
    /// issuer's reason (`generic_decline`, `insufficient_funds`).
    Declined {
        intent_id: Option<String>,
        code: String,
        decline_code: Option<String>,
        message: String,
    },
}

/// A PaymentIntent's status, as Stripe spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
    /// A status this client does not know (a newer API version).
    #[serde(other)]
    Unknown,
}

/// The card behind a charge: what the provider tells, never more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub brand: Option<String>,
    pub last4: Option<String>,
}

/// A PaymentIntent as cartflow reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub status: IntentStatus,
    pub amount_cents: i64,
    /// Held now.
    pub amount_capturable_cents: i64,
    /// Captured.
    pub amount_received_cents: i64,
    pub currency: String,
    /// `metadata[checkout_id]`, as sent by [`Authorize`].
    pub checkout_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds.
    pub created: i64,
    /// The latest charge's id.
    pub latest_charge: Option<String>,
    /// Set when the answer carried the charge (authorize and capture ask for it).
    pub card: Option<Card>,
}

/// A refund as cartflow reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub payment_intent: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    /// `succeeded`, `pending`, `failed`, `canceled`, `requires_action`.
    pub status: Option<String>,
    pub created: i64,
}

/// Why a call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached, was too slow, failed (5xx), or the breaker is
    /// open: nothing is known to have happened, and the same call with the same
    /// idempotency key may be tried again later.
    #[error("payment provider unavailable: {0}")]
    Transient(String),
    /// The provider answered and refused (a 4xx other than a decline): trying again
    /// will not change the answer. `code` is Stripe's error code, when it gave one.
    #[error("payment provider refused ({status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
    },
}

impl ProviderError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ProviderError::Transient(_))
    }
}

// --- Stripe's JSON, the fields read ---------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct WireIntent {
    id: String,
    status: IntentStatus,
    amount: i64,
    #[serde(default)]
    amount_capturable: i64,
    #[serde(default)]
    amount_received: i64,
    currency: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    latest_charge: Option<WireChargeRef>,
}

/// `latest_charge`: the charge when expanded, else its id.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireChargeRef {
    Id(String),
    Charge(WireCharge),
}

#[derive(Debug, Deserialize)]
struct WireCharge {
    id: String,
    #[serde(default)]
    payment_method_details: Option<WireMethodDetails>,
}

#[derive(Debug, Deserialize)]
struct WireMethodDetails {
    #[serde(default)]
    card: Option<WireCard>,
}

#[derive(Debug, Deserialize)]
struct WireCard {
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    last4: Option<String>,
}

impl From<WireIntent> for Intent {
    fn from(w: WireIntent) -> Self {
        let (latest_charge, card) = match w.latest_charge {
            None => (None, None),
            Some(WireChargeRef::Id(id)) => (Some(id), None),
            Some(WireChargeRef::Charge(charge)) => {
                let card = charge
                    .payment_method_details
                    .and_then(|d| d.card)
                    .map(|c| Card {
                        brand: c.brand,
                        last4: c.last4,
                    });
                (Some(charge.id), card)
            }
        };
        Intent {
            checkout_id: w.metadata.get("checkout_id").cloned(),
            id: w.id,
            status: w.status,
            amount_cents: w.amount,
            amount_capturable_cents: w.amount_capturable,
            amount_received_cents: w.amount_received,
            currency: w.currency,
            metadata: w.metadata,
            created: w.created,
            latest_charge,
            card,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireRefund {
    id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    created: i64,
}

impl From<WireRefund> for Refund {
    fn from(w: WireRefund) -> Self {
        Refund {
            id: w.id,
            payment_intent: w.payment_intent,
            amount_cents: w.amount,
            currency: w.currency,
            status: w.status,
            created: w.created,
        }
    }
}

/// Stripe's list shape.
#[derive(Debug, Deserialize)]
pub(crate) struct WireList<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// Anything with an id (to page a list).
pub(crate) trait HasId {
    fn id(&self) -> &str;
}

impl HasId for WireIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for WireRefund {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Stripe's error body: `{"error": {"type", "code", "decline_code", "message", ...}}`
/// (the type is not read: the status says as much).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub error: WireErrorBody,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireErrorBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<WireIntentId>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireIntentId {
    pub id: String,
}

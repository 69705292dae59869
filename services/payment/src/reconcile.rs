//! Reconciliation: the payment records against the provider's ledger, read through
//! the provider's public list API (so it works the same against Stripe). Settled
//! payments must match their intent's status and amounts; an intent the records do
//! not know, holding or having taken money, is a difference too.

use crate::domain::{Payment, PaymentStatus};
use crate::provider::{IntentStatus, Provider};
use cartflow_api::payment::{Difference, Reconciliation};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// One PaymentIntent as the provider lists it.
#[derive(Debug, Clone)]
pub struct LedgerIntent {
    pub id: String,
    pub checkout_id: Option<Uuid>,
    /// Stripe's status: `requires_capture`, `succeeded`, `canceled`, ...
    pub status: String,
    pub amount: i64,
    pub amount_received: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub intents: Vec<LedgerIntent>,
    /// Refunded cents per intent.
    pub refunded: HashMap<String, i64>,
}

impl Ledger {
    pub async fn read(provider: &Provider) -> anyhow::Result<Ledger> {
        let intents = provider
            .list_intents()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_iter()
            .map(|i| LedgerIntent {
                checkout_id: i.checkout_id.as_deref().and_then(|id| id.parse().ok()),
                status: status_name(i.status).to_string(),
                id: i.id,
                amount: i.amount_cents,
                amount_received: i.amount_received_cents,
            })
            .collect();
        let mut refunded = HashMap::new();
        for refund in provider
            .list_refunds()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            // A pending card refund is under way: the records count it as refunded too.
            if let (Some("succeeded" | "pending"), Some(intent)) =
                (refund.status.as_deref(), refund.payment_intent)
            {
                *refunded.entry(intent).or_insert(0) += refund.amount_cents;
            }
        }
        Ok(Ledger { intents, refunded })
    }
}

/// Stripe's name for an intent's status.
fn status_name(status: IntentStatus) -> &'static str {
    match status {
        IntentStatus::RequiresPaymentMethod => "requires_payment_method",
        IntentStatus::RequiresConfirmation => "requires_confirmation",
        IntentStatus::RequiresAction => "requires_action",
        IntentStatus::Processing => "processing",
        IntentStatus::RequiresCapture => "requires_capture",
        IntentStatus::Canceled => "canceled",
        IntentStatus::Succeeded => "succeeded",
        IntentStatus::Unknown => "unknown",
    }
}

/// What the provider should show for a settled payment: the intent's status and the
/// cents received and refunded. `None`: no money should be held or taken.
fn expected(payment: &Payment) -> Option<(&'static str, i64, i64)> {
    match payment.status {
        PaymentStatus::Authorized => Some(("requires_capture", 0, 0)),
        PaymentStatus::Captured => Some(("succeeded", payment.captured_cents, 0)),
        PaymentStatus::Refunded => {
            Some(("succeeded", payment.captured_cents, payment.refunded_cents))
        }
        PaymentStatus::Voided => Some(("canceled", 0, 0)),
        _ => None,
    }
}

/// Whether an intent holds or has taken money.
fn holds_money(intent: &LedgerIntent, refunded: i64) -> bool {
    intent.status == "requires_capture" || intent.amount_received > refunded
}

pub fn compare(records: &[Payment], ledger: &Ledger) -> Reconciliation {
    let by_id: HashMap<&str, &LedgerIntent> =
        ledger.intents.iter().map(|i| (i.id.as_str(), i)).collect();
    let refunded_of = |id: &str| ledger.refunded.get(id).copied().unwrap_or(0);
    let mut known: HashSet<&str> = HashSet::new();
    // Checkouts whose provider step is out: an intent of theirs may not be recorded yet.
    let pending_checkouts: HashSet<Uuid> = records
        .iter()
        .filter(|p| p.status.is_pending())
        .map(|p| p.checkout_id)
        .collect();
    let mut differences = Vec::new();
    let mut pending = Vec::new();
    let mut compared = 0;
    let mut differ = |payment: &Payment, intent_id: Option<&str>, problem: String| {
        differences.push(Difference {
            intent_id: intent_id.map(str::to_string),
            payment_id: Some(payment.id),
            checkout_id: Some(payment.checkout_id),
            problem,
        })
    };
    for payment in records {
        if let Some(id) = payment.intent_id.as_deref() {
            known.insert(id);
        }
        if payment.status.is_pending() {
            pending.push(payment.id);
            continue;
        }
        compared += 1;
        let intent = payment
            .intent_id
            .as_deref()
            .and_then(|id| by_id.get(id).copied());
        match (payment.status, expected(payment), intent) {
            (PaymentStatus::Failed, _, _) => differ(
                payment,
                payment.intent_id.as_deref(),
                format!(
                    "a provider step failed: {}",
                    payment.last_error.as_deref().unwrap_or("?")
                ),
            ),
            (_, Some(_), None) => differ(
                payment,
                payment.intent_id.as_deref(),
                format!(
                    "recorded {} but the provider has no such intent",
                    payment.status
                ),
            ),
            (_, Some((status, received, refunded)), Some(intent)) => {
                let actual_refunded = refunded_of(&intent.id);
                if intent.status != status
                    || intent.amount_received != received
                    || actual_refunded != refunded
                {
                    differ(
                        payment,
                        Some(&intent.id),
                        format!(
                            "recorded {} ({} received, {} refunded) but the provider says {} ({} received, {} refunded)",
                            payment.status,
                            received,
                            refunded,
                            intent.status,
                            intent.amount_received,
                            actual_refunded
                        ),
                    );
                } else if intent.amount != payment.amount_cents {
                    differ(
                        payment,
                        Some(&intent.id),
                        format!(
                            "recorded {} cents but the intent is for {}",
                            payment.amount_cents, intent.amount
                        ),
                    );
                }
            }
            (_, None, Some(intent)) if holds_money(intent, refunded_of(&intent.id)) => differ(
                payment,
                Some(&intent.id),
                format!(
                    "recorded {} but the provider holds or took money ({})",
                    payment.status, intent.status
                ),
            ),
            _ => {}
        }
    }
    for intent in &ledger.intents {
        if known.contains(intent.id.as_str()) {
            continue;
        }
        // An intent whose answer is not recorded yet belongs to a pending payment.
        let pending_checkout = intent
            .checkout_id
            .is_some_and(|c| pending_checkouts.contains(&c));
        if !pending_checkout && holds_money(intent, refunded_of(&intent.id)) {
            differences.push(Difference {
                intent_id: Some(intent.id.clone()),
                payment_id: None,
                checkout_id: intent.checkout_id,
                problem: format!(
                    "the provider {} money that no payment record knows",
                    if intent.status == "requires_capture" {
                        "holds"
                    } else {
                        "took"
                    }
                ),
            });
        }
    }
    let records_net_cents = records
        .iter()
        .map(|p| p.captured_cents - p.refunded_cents)
        .sum();
    let provider_net_cents = ledger
        .intents
        .iter()
        .map(|i| i.amount_received - refunded_of(&i.id))
        .sum();
    Reconciliation {
        compared,
        provider_intents: ledger.intents.len(),
        records_net_cents,
        provider_net_cents,
        pending,
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn payment(
        status: PaymentStatus,
        intent: Option<&str>,
        captured: i64,
        refunded: i64,
    ) -> Payment {
        Payment {
            id: Uuid::new_v4(),
            checkout_id: Uuid::new_v4(),
            cart_id: Uuid::new_v4(),
            customer_id: Uuid::new_v4(),
            order_id: None,
            status,
            amount_cents: 1000,
            currency: "usd".into(),
            captured_cents: captured,
            refunded_cents: refunded,
            payment_method: Some("pm_card_visa".into()),
            card: None,
            intent_id: intent.map(str::to_string),
            decline_code: None,
            attempts: 1,
            last_error: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn intent(id: &str, status: &str, received: i64) -> LedgerIntent {
        LedgerIntent {
            id: id.into(),
            checkout_id: None,
            status: status.into(),
            amount: 1000,
            amount_received: received,
        }
    }

    #[test]
    fn matching_books_have_no_differences() {
        let records = vec![
            payment(PaymentStatus::Captured, Some("pi_1"), 1000, 0),
            payment(PaymentStatus::Refunded, Some("pi_2"), 1000, 1000),
            payment(PaymentStatus::Voided, Some("pi_3"), 0, 0),
            payment(PaymentStatus::Declined, None, 0, 0),
        ];
        let ledger = Ledger {
            intents: vec![
                intent("pi_1", "succeeded", 1000),
                intent("pi_2", "succeeded", 1000),
                intent("pi_3", "canceled", 0),
            ],
            refunded: HashMap::from([("pi_2".to_string(), 1000)]),
        };
        let report = compare(&records, &ledger);
        assert_eq!(report.differences, vec![], "{report:?}");
        assert_eq!(report.compared, 4);
        assert_eq!(report.records_net_cents, 1000);
        assert_eq!(report.provider_net_cents, 1000);
    }

    #[test]
    fn a_hold_on_a_settled_checkout_that_no_record_names_is_a_difference() {
        let declined = payment(PaymentStatus::Declined, None, 0, 0);
        let mut stray = intent("pi_held", "requires_capture", 0);
        stray.checkout_id = Some(declined.checkout_id);
        let ledger = Ledger {
            intents: vec![stray],
            refunded: HashMap::new(),
        };
        let report = compare(&[declined], &ledger);
        assert_eq!(report.differences.len(), 1, "{report:?}");
        assert!(report.differences[0].problem.contains("holds"));
    }

    #[test]
    fn every_kind_of_disagreement_is_named() {
        let records = vec![
            // Captured here, only held there.
            payment(PaymentStatus::Captured, Some("pi_1"), 1000, 0),
            // Voided here, no such intent there.
            payment(PaymentStatus::Voided, Some("pi_gone"), 0, 0),
            // Pending: not compared.
            payment(PaymentStatus::Capturing, Some("pi_4"), 0, 0),
        ];
        let ledger = Ledger {
            intents: vec![
                intent("pi_1", "requires_capture", 0),
                intent("pi_4", "requires_capture", 0),
                // Money taken that no record knows.
                intent("pi_stray", "succeeded", 1000),
            ],
            refunded: HashMap::new(),
        };
        let report = compare(&records, &ledger);
        let problems: Vec<_> = report
            .differences
            .iter()
            .map(|d| (d.intent_id.clone().unwrap(), d.problem.clone()))
            .collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].1.contains("provider says requires_capture"),
            "{problems:?}"
        );
        assert!(problems[1].1.contains("no such intent"), "{problems:?}");
        assert_eq!(problems[2].0, "pi_stray");
        assert_eq!(report.pending, vec![records[2].id]);
    }
}

//! The reconciliation of cartflow's records with the provider's ledger.

use super::{payments, requested};
use uuid::Uuid;

/// The reconciliation names money the provider took that no record knows.
#[tokio::test]
async fn the_reconciliation_names_a_stray_charge() {
    use payment_service::provider::{Authorization, Authorize};
    let payments = payments(&[], 3000).await;
    let checkout = requested(Some("pm_card_visa"));
    payments.authorized(&checkout).await;
    // Somebody charged a card with the key by hand.
    let by_hand = payments.by_hand();
    let Authorization::Approved { intent_id, .. } = by_hand
        .authorize(&Authorize {
            idempotency_key: "by-hand".into(),
            amount_cents: 999,
            currency: "usd".into(),
            payment_method: "pm_card_visa".into(),
            checkout_id: Uuid::new_v4().to_string(),
        })
        .await
        .unwrap()
    else {
        panic!("the visa test card approves")
    };
    by_hand
        .capture(&intent_id, "by-hand-capture")
        .await
        .unwrap();
    let (status, report) = payments
        .harness
        .request("GET", "/payments/reconciliation", None)
        .await;
    assert_eq!(status, 200, "{report}");
    let differences = report["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{report}");
    assert_eq!(differences[0]["intent_id"], intent_id.as_str());
    assert!(
        differences[0]["problem"]
            .as_str()
            .unwrap()
            .contains("no payment record knows")
    );
    assert_eq!(
        (
            report["records_net_cents"].as_i64(),
            report["provider_net_cents"].as_i64()
        ),
        (Some(0), Some(999))
    );
    // Customers may not ask for it.
    let (status, _) = payments
        .harness
        .request_as(
            &[("x-customer-id", &Uuid::new_v4().to_string())],
            "GET",
            "/payments/reconciliation",
            None,
        )
        .await;
    assert_eq!(status, 403);
}

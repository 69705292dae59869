//! How the sandbox behaves as a provider: idempotency keys replay the first answer, the
//! slow and the flaky tokens, declines, and an outage.

use super::{INTENTS, REFUNDS, Schemas, error_code, intent_form, start};
use cartflow_gateway_sandbox::{IntentStatus, SandboxSettings};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_same_key_replays_the_first_answer_and_charges_once() {
    let sandbox = start(SandboxSettings::default()).await;
    let first = sandbox.authorize("pm_card_visa", 4200, "replay").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    // The same parameters in another order are the same request.
    let mut reordered = intent_form("pm_card_visa", "4200", "replay");
    reordered.reverse();
    let again = sandbox.post(INTENTS, &reordered, Some("replay")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json, first.json);

    // A decline is replayed too: 402, the same intent, one decline.
    let declined = sandbox
        .authorize("pm_card_chargeDeclined", 4200, "replay-declined")
        .await;
    let declined_again = sandbox
        .authorize("pm_card_chargeDeclined", 4200, "replay-declined")
        .await;
    assert_eq!((declined.status, declined_again.status), (402, 402));
    assert_eq!(declined_again.json, declined.json);

    // Capture and refund retried with their keys happen once.
    let id = first.json["id"].as_str().unwrap();
    let capture = format!("{INTENTS}/{id}/capture");
    let captured = sandbox.post(&capture, &[], Some("replay-capture")).await;
    let captured_again = sandbox.post(&capture, &[], Some("replay-capture")).await;
    assert_eq!((captured.status, captured_again.status), (200, 200));
    assert_eq!(captured_again.json, captured.json);
    let refund = [("payment_intent", id), ("amount", "200")];
    let refunded = sandbox.post(REFUNDS, &refund, Some("replay-refund")).await;
    let refunded_again = sandbox.post(REFUNDS, &refund, Some("replay-refund")).await;
    assert_eq!(refunded_again.json, refunded.json);

    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 2);
    let counts = &ledger.counts;
    assert_eq!(
        (
            counts.authorizations,
            counts.declines,
            counts.captures,
            counts.refunds
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(
        (ledger.totals.captured, ledger.totals.refunded),
        (4200, 200)
    );
}

#[tokio::test]
async fn the_slow_token_answers_late_once_and_its_key_waits_for_it() {
    // Long enough that the give-up and the in-use retry below surely fall within it.
    let slow = Duration::from_millis(2000);
    let sandbox = start(SandboxSettings {
        slow_ms: slow.as_millis() as u64,
        ..SandboxSettings::default()
    })
    .await;
    let started = Instant::now();

    // A client that gives up: the intent is made all the same, once.
    let given_up = tokio::time::timeout(
        Duration::from_millis(200),
        sandbox.authorize("pm_card_slow", 3100, "slow"),
    )
    .await;
    assert!(given_up.is_err(), "answered before the delay");
    assert_eq!(sandbox.ledger().await.intents.len(), 1);

    // Its retry while the first still runs: 409, Stripe's in-use error, retryable.
    let in_use = sandbox.authorize("pm_card_slow", 3100, "slow").await;
    assert_eq!(in_use.status, 409, "{}", in_use.json);
    assert_eq!(
        error_code(&in_use),
        ("invalid_request_error", "idempotency_key_in_use")
    );
    assert_eq!(in_use.header("stripe-should-retry"), Some("true"));
    Schemas::load().check(INTENTS, "post", &in_use);

    // Once the first has finished, the retry gets its answer at once (asked until the
    // key is no longer in use, within a deadline).
    let deadline = started + slow + Duration::from_secs(10);
    let (replayed, took) = loop {
        let asked = Instant::now();
        let answer = sandbox.authorize("pm_card_slow", 3100, "slow").await;
        if answer.status != 409 || Instant::now() > deadline {
            break (answer, asked.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(started.elapsed() >= slow, "answered before the delay");
    assert!(took < slow, "the replay waited {took:?}");
    assert_eq!(replayed.status, 200, "{}", replayed.json);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.json["status"], "requires_capture");

    // A request that waits gets the answer after the delay.
    let asked = Instant::now();
    let waited = sandbox.authorize("pm_card_slow", 3100, "slow-2").await;
    assert!(asked.elapsed() >= slow);
    assert_eq!(waited.status, 200);

    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 2);
    assert_eq!(ledger.intents[0].id, replayed.json["id"]);
    assert_eq!(ledger.counts.authorizations, 2);
}

#[tokio::test]
async fn the_flaky_token_fails_once_per_key_then_approves_once() {
    let sandbox = start(SandboxSettings::default()).await;
    let failed = sandbox.authorize("pm_card_flaky", 700, "flaky").await;
    assert_eq!(failed.status, 500, "{}", failed.json);
    assert_eq!(error_code(&failed).0, "api_error");
    Schemas::load().check(INTENTS, "post", &failed);
    assert!(
        sandbox.ledger().await.intents.is_empty(),
        "a 500 creates nothing"
    );

    let approved = sandbox.authorize("pm_card_flaky", 700, "flaky").await;
    assert_eq!(approved.status, 200, "{}", approved.json);
    assert_eq!(approved.header("idempotent-replayed"), None);
    let replayed = sandbox.authorize("pm_card_flaky", 700, "flaky").await;
    assert_eq!(replayed.json, approved.json);

    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 1);
    assert_eq!(ledger.intents[0].status, IntentStatus::RequiresCapture);
    // Another key fails once too.
    let other = sandbox.authorize("pm_card_flaky", 700, "flaky-2").await;
    assert_eq!(other.status, 500);
}

#[tokio::test]
async fn declines_hold_nothing_and_say_why() {
    let sandbox = start(SandboxSettings::default()).await;
    let generic = sandbox
        .authorize("pm_card_chargeDeclined", 5000, "d1")
        .await;
    let funds = sandbox
        .authorize("pm_card_chargeDeclinedInsufficientFunds", 5000, "d2")
        .await;
    assert_eq!(generic.json["error"]["decline_code"], "generic_decline");
    assert_eq!(funds.json["error"]["decline_code"], "insufficient_funds");
    assert_eq!(
        funds.json["error"]["message"],
        "Your card has insufficient funds."
    );
    // A declined intent cannot be captured; it can be canceled (no void: nothing held).
    let id = funds.json["error"]["payment_intent"]["id"]
        .as_str()
        .unwrap();
    let capture = sandbox
        .post(&format!("{INTENTS}/{id}/capture"), &[], Some("d2-capture"))
        .await;
    assert_eq!(capture.status, 400);
    let cancel = sandbox
        .post(&format!("{INTENTS}/{id}/cancel"), &[], Some("d2-cancel"))
        .await;
    assert_eq!(cancel.status, 200);

    let ledger = sandbox.ledger().await;
    let codes: Vec<_> = ledger
        .intents
        .iter()
        .map(|i| {
            (
                i.decline_code.as_deref(),
                i.amount_capturable,
                i.last4.as_str(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (Some("generic_decline"), 0, "0002"),
            (Some("insufficient_funds"), 0, "9995")
        ]
    );
    assert_eq!((ledger.counts.declines, ledger.counts.voids), (2, 0));
    assert_eq!(ledger.totals.capturable, 0);
}

#[tokio::test]
async fn an_outage_answers_503_until_the_provider_is_back() {
    let sandbox = start(SandboxSettings::default()).await;
    sandbox.set_down(true).await;
    let down = sandbox.authorize("pm_card_visa", 1000, "outage").await;
    assert_eq!(down.status, 503);
    assert_eq!(error_code(&down).0, "api_error");
    assert!(sandbox.ledger().await.intents.is_empty());

    sandbox.set_down(false).await;
    let up = sandbox.authorize("pm_card_visa", 1000, "outage").await;
    assert_eq!(up.status, 200, "the key was not spent by the outage");
    assert_eq!(sandbox.ledger().await.intents.len(), 1);
}

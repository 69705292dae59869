//! Every route answers in Stripe's shapes, with no card number anywhere, and the schema
//! check fails a body not in them.

use super::{
    CANCEL, CAPTURE, INTENT, INTENTS, REFUNDS, Schemas, error_code, form, intent_form, start,
};
use axum::http::Method;
use cartflow_gateway_sandbox::SandboxSettings;
use serde_json::{Value, json};

#[tokio::test]
async fn every_route_answers_in_stripes_shapes() {
    let sandbox = start(SandboxSettings::default()).await;
    let schemas = Schemas::load();

    // Approve, the charge expanded: brand and last four for the token.
    let visa = sandbox
        .authorize("pm_card_visa", 2500, "checkout-visa")
        .await;
    assert_eq!(visa.status, 200, "{}", visa.json);
    schemas.check(INTENTS, "post", &visa);
    assert_eq!(visa.json["status"], "requires_capture");
    assert_eq!(visa.json["amount_capturable"], 2500);
    assert_eq!(visa.json["metadata"]["checkout_id"], "checkout-visa");
    let card = &visa.json["latest_charge"]["payment_method_details"]["card"];
    assert_eq!(
        (card["brand"].as_str(), card["last4"].as_str()),
        (Some("visa"), Some("4242"))
    );
    let visa_id = visa.json["id"].as_str().unwrap().to_string();

    // Approve, not expanded: the charge is its id; retrieving with expand shows it.
    let amount = "1800";
    let mut unexpanded = intent_form("pm_card_mastercard", amount, "checkout-mc");
    unexpanded.pop();
    let mc = sandbox
        .post(INTENTS, &unexpanded, Some("checkout-mc"))
        .await;
    assert_eq!(mc.status, 200, "{}", mc.json);
    schemas.check(INTENTS, "post", &mc);
    assert!(
        mc.json["latest_charge"]
            .as_str()
            .unwrap()
            .starts_with("ch_")
    );
    let mc_id = mc.json["id"].as_str().unwrap().to_string();
    let got = sandbox
        .get(&format!("{INTENTS}/{mc_id}?expand[]=latest_charge"))
        .await;
    assert_eq!(got.status, 200);
    schemas.check(INTENT, "get", &got);
    let card = &got.json["latest_charge"]["payment_method_details"]["card"];
    assert_eq!(
        (card["brand"].as_str(), card["last4"].as_str()),
        (Some("mastercard"), Some("4444"))
    );
    let got = sandbox.get(&format!("{INTENTS}/{mc_id}")).await;
    schemas.check(INTENT, "get", &got);

    // Both declines: 402 card_error, the intent inside, nothing held.
    for (token, decline_code) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
    ] {
        let declined = sandbox.authorize(token, 900, token).await;
        assert_eq!(declined.status, 402, "{}", declined.json);
        schemas.check(INTENTS, "post", &declined);
        assert_eq!(error_code(&declined), ("card_error", "card_declined"));
        let error = &declined.json["error"];
        assert_eq!(error["decline_code"], decline_code);
        assert_eq!(error["payment_intent"]["status"], "requires_payment_method");
        assert_eq!(error["payment_intent"]["amount_capturable"], 0);
    }

    // An unknown token, missing and wrong keys, an unknown intent.
    let unknown = sandbox.authorize("pm_card_unknown", 900, "unknown").await;
    assert_eq!(unknown.status, 400);
    schemas.check(INTENTS, "post", &unknown);
    assert_eq!(
        error_code(&unknown),
        ("invalid_request_error", "resource_missing")
    );
    for api_key in [
        None,
        Some("sk_live_not_this_one"),
        Some("pk_test_publishable"),
    ] {
        let body = form(&intent_form("pm_card_visa", "100", "no-key"));
        let refused = sandbox
            .send(Method::POST, INTENTS, api_key, Some("no-key"), body)
            .await;
        assert_eq!(refused.status, 401, "{api_key:?}");
        schemas.check(INTENTS, "post", &refused);
    }
    let missing = sandbox.get(&format!("{INTENTS}/pi_nothing")).await;
    assert_eq!(missing.status, 404);
    schemas.check(INTENT, "get", &missing);

    // Capture; again is refused for the intent's state.
    let capture = format!("{INTENTS}/{visa_id}/capture");
    let captured = sandbox.post(&capture, &[], Some("capture-visa")).await;
    assert_eq!(captured.status, 200, "{}", captured.json);
    schemas.check(CAPTURE, "post", &captured);
    assert_eq!(captured.json["status"], "succeeded");
    assert_eq!(captured.json["amount_received"], 2500);
    assert_eq!(captured.json["amount_capturable"], 0);
    let again = sandbox.post(&capture, &[], Some("capture-visa-2")).await;
    assert_eq!(again.status, 400);
    schemas.check(CAPTURE, "post", &again);
    assert_eq!(error_code(&again).1, "payment_intent_unexpected_state");

    // Cancel (void); a captured intent cannot be canceled.
    let canceled = sandbox
        .post(
            &format!("{INTENTS}/{mc_id}/cancel"),
            &[
                ("cancellation_reason", "abandoned"),
                ("expand[]", "latest_charge"),
            ],
            Some("cancel-mc"),
        )
        .await;
    assert_eq!(canceled.status, 200, "{}", canceled.json);
    schemas.check(CANCEL, "post", &canceled);
    assert_eq!(canceled.json["status"], "canceled");
    let refused = sandbox
        .post(
            &format!("{INTENTS}/{visa_id}/cancel"),
            &[],
            Some("cancel-visa"),
        )
        .await;
    assert_eq!(refused.status, 400);
    schemas.check(CANCEL, "post", &refused);
    assert_eq!(
        error_code(&refused),
        ("invalid_request_error", "payment_intent_unexpected_state")
    );

    // Refunds: part, too much, the rest, once more, and of a voided intent.
    let part = sandbox
        .post(
            REFUNDS,
            &[("payment_intent", &visa_id), ("amount", "1000")],
            Some("refund-1"),
        )
        .await;
    assert_eq!(part.status, 200, "{}", part.json);
    schemas.check(REFUNDS, "post", &part);
    assert_eq!(part.json["status"], "succeeded");
    assert_eq!(part.json["amount"], 1000);
    let too_much = sandbox
        .post(
            REFUNDS,
            &[("payment_intent", &visa_id), ("amount", "2000")],
            Some("refund-2"),
        )
        .await;
    assert_eq!(too_much.status, 400);
    schemas.check(REFUNDS, "post", &too_much);
    let rest = sandbox
        .post(REFUNDS, &[("payment_intent", &visa_id)], Some("refund-3"))
        .await;
    assert_eq!(
        (rest.status, rest.json["amount"].as_i64()),
        (200, Some(1500))
    );
    let more = sandbox
        .post(REFUNDS, &[("payment_intent", &visa_id)], Some("refund-4"))
        .await;
    assert_eq!(more.status, 400);
    schemas.check(REFUNDS, "post", &more);
    let voided = sandbox
        .post(REFUNDS, &[("payment_intent", &mc_id)], Some("refund-5"))
        .await;
    assert_eq!(voided.status, 400);
    schemas.check(REFUNDS, "post", &voided);

    // The lists, page by page, newest first, hold the whole ledger.
    let ledger = sandbox.ledger().await;
    let mut seen = Vec::new();
    let mut path = format!("{INTENTS}?limit=2&expand[]=data.latest_charge");
    loop {
        let page = sandbox.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.json);
        schemas.check(INTENTS, "get", &page);
        let data = page.json["data"].as_array().unwrap();
        seen.extend(data.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        if page.json["has_more"] == false {
            break;
        }
        path = format!("{INTENTS}?limit=2&starting_after={}", seen.last().unwrap());
    }
    let mut expected: Vec<String> = ledger.intents.iter().map(|i| i.id.clone()).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    let refunds = sandbox.get(&format!("{REFUNDS}?limit=1")).await;
    schemas.check(REFUNDS, "get", &refunds);
    assert_eq!(refunds.json["has_more"], true);
    let after = refunds.json["data"][0]["id"].as_str().unwrap();
    let last = sandbox
        .get(&format!("{REFUNDS}?limit=1&starting_after={after}"))
        .await;
    schemas.check(REFUNDS, "get", &last);
    assert_eq!(
        (
            last.json["data"][0]["amount"].as_i64(),
            &last.json["has_more"]
        ),
        (Some(1000), &json!(false))
    );
    let bad = sandbox.get(&format!("{INTENTS}?limit=1000")).await;
    assert_eq!(bad.status, 400);
    schemas.check(INTENTS, "get", &bad);

    // A key reused with other parameters.
    let reused = sandbox
        .authorize("pm_card_visa", 2600, "checkout-visa")
        .await;
    assert_eq!(reused.status, 400);
    schemas.check(INTENTS, "post", &reused);
    assert_eq!(error_code(&reused).0, "idempotency_error");

    // An outage answers every route in Stripe's error shape.
    sandbox.set_down(true).await;
    let down = sandbox.get(INTENTS).await;
    assert_eq!(down.status, 503);
    schemas.check(INTENTS, "get", &down);
    sandbox.set_down(false).await;

    // The books: 2500 captured and refunded, the rest voided or declined.
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger.intents.len(), 4);
    assert_eq!(ledger.refunds.len(), 2);
    let counts = &ledger.counts;
    assert_eq!(
        (
            counts.authorizations,
            counts.declines,
            counts.captures,
            counts.voids,
            counts.refunds
        ),
        (2, 2, 1, 1, 2)
    );
    assert_eq!(
        (
            ledger.totals.captured,
            ledger.totals.refunded,
            ledger.totals.net
        ),
        (2500, 2500, 0)
    );
    assert_eq!(ledger.totals.capturable, 0);
    assert_no_card_numbers(&serde_json::to_string(&ledger).unwrap());
}

/// No run of 13 or more digits anywhere: tokens, brands and last fours only.
fn assert_no_card_numbers(text: &str) {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        assert!(run < 13, "something shaped like a card number in {text}");
    }
}

#[tokio::test]
async fn a_body_not_in_stripes_shape_fails_the_check() {
    let sandbox = start(SandboxSettings::default()).await;
    let schemas = Schemas::load();
    let approved = sandbox.authorize("pm_card_visa", 1200, "mutations").await;
    let declined = sandbox
        .authorize("pm_card_chargeDeclined", 1200, "mutations-declined")
        .await;
    assert!(
        schemas
            .errors(INTENTS, "post", 200, &approved.json)
            .is_empty()
    );
    assert!(
        schemas
            .errors(INTENTS, "post", 402, &declined.json)
            .is_empty()
    );

    type Mutation = fn(&mut Value);
    let mutations: [(&str, Mutation); 6] = [
        ("amount as a string", |v| v["amount"] = json!("12.00")),
        ("no status", |v| {
            v.as_object_mut().unwrap().remove("status");
        }),
        ("a status Stripe does not have", |v| {
            v["status"] = json!("authorized")
        }),
        ("the card's expiry month missing", |v| {
            v["latest_charge"]["payment_method_details"]["card"]
                .as_object_mut()
                .unwrap()
                .remove("exp_month");
        }),
        ("null where Stripe never sends null", |v| {
            v["latest_charge"]["captured"] = Value::Null
        }),
        ("an expansion cartflow does not use, expanded", |v| {
            v["latest_charge"]["customer"] = json!({ "id": "cus_1" })
        }),
    ];
    for (what, mutate) in mutations {
        let mut body = approved.json.clone();
        mutate(&mut body);
        assert!(
            !schemas.errors(INTENTS, "post", 200, &body).is_empty(),
            "{what}: passed the check"
        );
    }
    let mut body = declined.json.clone();
    body["error"]["type"] = json!("card_failure");
    assert!(!schemas.errors(INTENTS, "post", 402, &body).is_empty());
}

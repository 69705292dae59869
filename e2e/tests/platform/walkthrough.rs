//! The README's walk-through (`cli/src/walkthrough.sh`, which `cartflow dev` prints) run
//! as a newcomer would run it, with bash and curl, against a platform seeded by
//! `cartflow seed`: every call answers what its comment says.

use crate::helpers::{eventually, spawn_app};
use cart_service::domain::CartStatus;
use cartflow::walkthrough::render;
use cartflow_events::Service;
use serde_json::Value;
use uuid::Uuid;

/// The walk-through's `sleep 1` gives a person's machine time for the saga; here each
/// instead waits until no cart of the walk-through's customers is still in checkout,
/// with a deadline (a test must not sleep and hope).
const SETTLE: &str = r#"
sleep() {
  local deadline=$((SECONDS + 30)) who
  for who in $C ${D:-} ${E:-}; do
    while curl -s "$CART/cart" -H "X-Customer-Id: $who" | grep -q checkout_pending; do
      ((SECONDS < deadline)) || { echo "the saga of $who did not settle in 30 s" >&2; exit 1; }
      command sleep 0.1
    done
  done
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_walk_through_answers_as_its_comments_say() {
    let app = spawn_app().await;
    crate::seed::seed(&app, &[]).await;
    let script = render(|service| app.url(service), None);
    let cart = app.url(Service::Cart);
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -u\nCART={cart}\n{SETTLE}\n{script}"))
        .output()
        .await
        .expect("running bash");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walk-through failed:\n{out}\n{err}"
    );
    let answers: Vec<Value> = out
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}\n{out}"))
        })
        .collect();
    let said = |what: &str| out.contains(what);

    // John: two lines, a checkout, a confirmed order, the stock reserved.
    assert!(said(r#""status":"checkout_pending""#), "{out}");
    assert!(said(r#""status":"converted""#), "{out}");
    assert!(
        said(r#""status":"confirmed""#) && said(r#""total_cents":14997"#),
        "{out}"
    );
    assert!(
        said(r#""sku":"KB-101","quantity":49,"reserved":1"#),
        "{out}"
    );
    // Jane: more lamps than exist, then fewer.
    assert!(said(r#""status":"stock_unavailable""#), "{out}");
    assert!(said(r#""available":2"#), "{out}");
    // John's order: Jane cannot cancel it (404), John can, once (then 409).
    let statuses: Vec<i64> = answers
        .iter()
        .filter_map(|a| a["status"].as_i64())
        .collect();
    assert!(
        statuses.contains(&404) && statuses.contains(&409),
        "{statuses:?}\n{out}"
    );
    assert!(
        said(r#""status":"cancelled""#),
        "the cancel found its order: {out}"
    );
    // Emily: declined, then another card.
    assert!(said(r#""decline_code":"insufficient_funds""#), "{out}");
    assert!(said(r#""items":["#), "the lists are pages: {out}");

    // What the comments promise after the script: Emily converted, John refunded.
    let emily: Uuid = cartflow::seed::CUSTOMERS[3].0.parse().unwrap();
    let cart = app.settled_cart(emily).await;
    assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");
    let john: Uuid = cartflow::seed::CUSTOMERS[0].0.parse().unwrap();
    eventually("John's payment refunded", || async {
        let page = app
            .get_json(Service::Payment, &format!("/payments?customer_id={john}"))
            .await;
        page["items"]
            .as_array()?
            .iter()
            .any(|p| p["status"] == "refunded")
            .then_some(())
    })
    .await;
    app.stop().await;
}

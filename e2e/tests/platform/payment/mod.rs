//! Payment in the checkout, end to end: the real emulator, PostgreSQL, and the gateway
//! sandbox over HTTP. An order exists only with a held authorization; a declined card
//! gives the stock back and leaves the cart to pay another way; a cancelled order is
//! refunded once; a provider that is down past the expiry ends the checkout with
//! nothing held; and the books balance three ways (provider, payment records, orders).
//!
//! The tests are in `outcomes` (approved, declined, refunded, the provider down) and
//! `checkout_body` (what a checkout's body may carry: no card numbers, and the address
//! it ships to).

mod checkout_body;
mod outcomes;

use crate::helpers::{TestApp, eventually};
use cartflow_api::notification::Kind;
use cartflow_api::payment::Payment;
use cartflow_events::Service;
use serde_json::Value;
use uuid::Uuid;

fn paying_with(token: &str) -> Value {
    serde_json::to_value(cartflow_api::cart::CheckoutRequest::paid_with(token)).unwrap()
}

async fn payments_of(app: &TestApp, query: &str) -> Vec<Payment> {
    let page = app
        .get_json(Service::Payment, &format!("/payments?{query}"))
        .await;
    assert!(page["next_page_token"].is_null(), "{page}");
    serde_json::from_value(page["items"].clone()).unwrap()
}

/// Waits until the customer has `n` sent notifications of `kind` (email and push).
async fn told(app: &TestApp, customer: Uuid, kind: Kind, n: usize) {
    eventually(&format!("{n} {kind} notifications sent"), || async {
        let sent = app
            .notifications(customer)
            .await
            .iter()
            .filter(|x| x.kind == kind && x.status == cartflow_api::notification::Status::Sent)
            .count();
        (sent == n).then_some(())
    })
    .await;
}

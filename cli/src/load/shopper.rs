//! One virtual shopper: two lines, convert, wait for the outcome, again.

use super::Shared;
use super::observer::Ending;
use cartflow_api::cart::CheckoutRequest;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One attempted checkout, as a shopper saw it.
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    pub(super) cart_id: Option<Uuid>,
    pub(super) converted_at: Instant,
    /// How long `POST /cart/convert-to-order` took to answer.
    pub(super) convert_answered_in: Option<Duration>,
    pub(super) result: Result<Duration, Failure>,
    pub(super) concurrency: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Failure {
    Timeout,
    Rejected,
    Http(String),
}

/// One virtual shopper: two lines, convert, wait for the outcome; again until `stop`.
pub(super) async fn shop(
    shared: Arc<Shared>,
    n: usize,
    customers: Vec<Uuid>,
    concurrency: usize,
    stop: CancellationToken,
) {
    let mut seed = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut round = 0usize;
    while !stop.is_cancelled() {
        let customer = customers[round % customers.len()];
        round += 1;
        let first = next() as usize % shared.skus.len();
        let second = (first + 1 + next() as usize % (shared.skus.len() - 1)) % shared.skus.len();
        let attempt = checkout(
            &shared,
            customer,
            [&shared.skus[first], &shared.skus[second]],
            concurrency,
        )
        .await;
        let failed = attempt.result.is_err();
        shared.attempts.lock().unwrap().push(attempt);
        if failed {
            // Do not spin on a broken stack.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub(super) async fn checkout(
    shared: &Shared,
    customer: Uuid,
    skus: [&String; 2],
    concurrency: usize,
) -> Attempt {
    let failed = |message: String| Attempt {
        cart_id: None,
        converted_at: Instant::now(),
        convert_answered_in: None,
        result: Err(Failure::Http(message)),
        concurrency,
    };
    for sku in skus {
        // A 409 means the customer's previous cart is still being converted: retry briefly.
        let mut tries = 0;
        loop {
            match shared.cart.add_item(customer, sku, 1).await {
                Ok(_) => break,
                Err(e) if e.status() == Some(StatusCode::CONFLICT) && tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return failed(format!("add item: {e}")),
            }
        }
    }
    // Every checkout pays with the sandbox's approving card, or every `decline_every`th
    // with one it declines.
    let n = shared
        .checkouts
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let card = match shared.plan.decline_every {
        every if every > 0 && n % every == every - 1 => "pm_card_chargeDeclined",
        _ => CheckoutRequest::TEST_CARD,
    };
    let converted_at = Instant::now();
    let converted = shared
        .cart
        .convert_with(customer, &CheckoutRequest::paid_with(card))
        .await;
    let convert_answered_in = Some(converted_at.elapsed());
    let (cart_id, checkout_id) = match converted {
        Ok(accepted) => (accepted.cart_id, accepted.checkout_id),
        Err(e) => return failed(format!("convert: {e}")),
    };
    let ended = shared.ledger.converted(cart_id, checkout_id, converted_at);
    let result = match tokio::time::timeout(shared.plan.checkout_timeout, ended).await {
        Ok(Ok(Ending::Confirmed)) => Ok(converted_at.elapsed()),
        Ok(Ok(Ending::Rejected)) => Err(Failure::Rejected),
        Ok(Err(_)) | Err(_) => Err(Failure::Timeout),
    };
    Attempt {
        cart_id: Some(cart_id),
        converted_at,
        convert_answered_in,
        result,
        concurrency,
    }
}

//! Order as the arbiter of every checkout, on a database of its own (the per-service
//! layer): a checkout gets its order once it holds both answers (stock and payment, in
//! either order) or is given up, never both, whatever arrives.

use cartflow_events::{
    CheckoutExpireRequested, CheckoutExpired, LineItem, OrderCreated, PaymentAuthorized,
    StockAvailable,
};
use cartflow_messaging::HandlerError;
use cartflow_messaging::consumer::{Applied, Outcome};
use cartflow_testkit::{HandlerHarness, message};
use chrono::{Duration, Utc};
use order_service::OrderApp;
use order_service::handlers::OrderHandler;
use order_service::store::{self, NewOrder};
use std::sync::Arc;
use uuid::Uuid;

async fn order() -> HandlerHarness {
    HandlerHarness::new::<OrderApp>(Arc::new(OrderHandler)).await
}

fn reserved(expires_in: Option<Duration>) -> PaymentAuthorized {
    PaymentAuthorized {
        cart_id: Uuid::new_v4(),
        checkout_id: Uuid::new_v4(),
        expires_at: expires_in.map(|d| Utc::now() + d),
        customer_id: Uuid::new_v4(),
        payment_id: Uuid::new_v4(),
        amount_cents: 300,
        items: vec![LineItem {
            product_sku: cartflow_events::Sku::parse("A").unwrap(),
            quantity: 2,
            unit_price_cents: 150,
        }],
        shipping_address: None,
        card: None,
    }
}

/// Inventory's answer to the same checkout: every line reserved.
fn stock(authorized: &PaymentAuthorized) -> StockAvailable {
    StockAvailable {
        cart_id: authorized.cart_id,
        checkout_id: Some(authorized.checkout_id),
        expires_at: authorized.expires_at,
        customer_id: authorized.customer_id,
        items: authorized.items.clone(),
        payment_method: None,
        total_cents: Some(authorized.amount_cents),
        shipping_address: None,
    }
}

fn give_up(reserved: &PaymentAuthorized) -> CheckoutExpireRequested {
    CheckoutExpireRequested {
        checkout_id: reserved.checkout_id,
        cart_id: reserved.cart_id,
        customer_id: reserved.customer_id,
        items: reserved.items.clone(),
    }
}

async fn orders(order: &HandlerHarness) -> i64 {
    order.count("SELECT count(*) FROM orders").await
}

/// Insists that a batch committed and that every message of it was processed.
fn all_processed(applied: Result<Vec<Applied>, HandlerError>) {
    let applied = applied.expect("the batch commits");
    assert!(
        applied.iter().all(|a| matches!(a, Ok(Outcome::Processed))),
        "{applied:?}"
    );
}

/// Insists that the only checkout was given up once, with no order. It is announced
/// when given up, and again to each authorization that arrives after (so that payment
/// voids it, whatever raced what).
async fn given_up_once_without_an_order(order: &HandlerHarness) {
    assert_eq!(orders(order).await, 0);
    assert!(order.staged::<OrderCreated>().await.is_empty());
    assert_eq!(
        order.count("SELECT count(*) FROM expired_checkouts").await,
        1
    );
    let announced = order.staged::<CheckoutExpired>().await;
    assert!(!announced.is_empty());
    assert!(
        announced
            .iter()
            .all(|e| e.checkout_id == announced[0].checkout_id)
    );
}

#[tokio::test]
async fn an_answer_in_time_creates_one_order_and_a_later_expiry_request_gets_it_again() {
    let order = order().await;
    let checkout = reserved(Some(Duration::minutes(5)));
    order.processed(&stock(&checkout)).await;
    order.processed(&checkout).await;
    order.processed(&checkout).await; // re-announced by payment
    order.processed(&stock(&checkout)).await; // and by inventory
    assert_eq!(orders(&order).await, 1);
    // The cart gave up waiting before it saw order.created: answered with the order.
    order.processed(&give_up(&checkout)).await;
    let created = order.staged::<OrderCreated>().await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].order_id, created[1].order_id);
    assert_eq!(created[1].checkout_id, Some(checkout.checkout_id));
    assert_eq!(created[1].total_cents, 300);
    assert!(order.staged::<CheckoutExpired>().await.is_empty());
    assert_eq!(orders(&order).await, 1);
    // The order's lines were stored with it, once.
    let lines: Vec<(i32, String, i32, i64)> =
        sqlx::query_as("SELECT line_no, product_sku, quantity, unit_price_cents FROM order_items")
            .fetch_all(order.pool())
            .await
            .unwrap();
    assert_eq!(lines, vec![(1, "A".to_string(), 2, 150)]);
}

#[tokio::test]
async fn an_expiry_request_first_leaves_the_late_answer_without_an_order() {
    let order = order().await;
    let checkout = reserved(Some(Duration::minutes(5)));
    order.processed(&give_up(&checkout)).await;
    order.processed(&checkout).await;
    order.processed(&give_up(&checkout)).await; // re-sent: announced again
    assert_eq!(orders(&order).await, 0);
    assert!(order.staged::<OrderCreated>().await.is_empty());
    // Given up; said again to the late authorization, and to the re-sent request.
    let expired = order.staged::<CheckoutExpired>().await;
    assert_eq!(expired.len(), 3);
    assert!(
        expired
            .iter()
            .all(|e| e.checkout_id == checkout.checkout_id)
    );
}

#[tokio::test]
async fn an_answer_past_the_expiry_gives_the_checkout_up_by_itself() {
    let order = order().await;
    let late = reserved(Some(-Duration::seconds(1)));
    order.processed(&late).await;
    assert_eq!(orders(&order).await, 0);
    let expired = order.staged::<CheckoutExpired>().await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].items, late.items);
    // The cart's own request then finds the decision and repeats it.
    order.processed(&give_up(&late)).await;
    assert_eq!(order.staged::<CheckoutExpired>().await.len(), 2);
    assert_eq!(orders(&order).await, 0);
}

#[tokio::test]
async fn two_checkouts_of_one_cart_are_decided_separately() {
    let order = order().await;
    let first = reserved(Some(Duration::minutes(5)));
    order.processed(&give_up(&first)).await;
    // The cart, unlocked, is checked out again under a new checkout id.
    let retry = PaymentAuthorized {
        checkout_id: Uuid::new_v4(),
        ..first.clone()
    };
    order.processed(&retry).await;
    order.processed(&stock(&first)).await; // the first attempt's stock, late
    assert_eq!(orders(&order).await, 0, "the retry's stock is not in yet");
    order.processed(&stock(&retry)).await;
    assert_eq!(orders(&order).await, 1);
    let created = order.staged::<OrderCreated>().await;
    assert_eq!(created[0].checkout_id, Some(retry.checkout_id));
}

/// A batch of answers is ordered together, each as it would be alone: an order per
/// checkout with its own lines, a re-announcement ordering nothing more, an answer past
/// its expiry giving its checkout up, and one for a checkout given up before ordering
/// nothing.
#[tokio::test]
async fn a_batch_of_answers_orders_each_checkout_once_with_its_own_lines() {
    let order = order().await;
    let two_lines = PaymentAuthorized {
        items: vec![
            LineItem {
                product_sku: cartflow_events::Sku::parse("B").unwrap(),
                quantity: 1,
                unit_price_cents: 1000,
            },
            LineItem {
                product_sku: cartflow_events::Sku::parse("C").unwrap(),
                quantity: 3,
                unit_price_cents: 5,
            },
        ],
        ..reserved(Some(Duration::minutes(5)))
    };
    let one_line = reserved(None);
    let late = reserved(Some(-Duration::seconds(1)));
    let given_up = reserved(Some(Duration::minutes(5)));
    order.processed(&give_up(&given_up)).await;
    all_processed(
        order
            .deliver_batch(&[stock(&two_lines), stock(&one_line)])
            .await,
    );
    let batch = [
        two_lines.clone(),
        one_line.clone(),
        two_lines.clone(),
        late.clone(),
        given_up.clone(),
    ];
    all_processed(order.deliver_batch(&batch).await);
    let created = order.staged::<OrderCreated>().await;
    let created: Vec<_> = created
        .iter()
        .map(|c| (c.checkout_id, c.total_cents))
        .collect();
    assert_eq!(
        created,
        [
            (Some(two_lines.checkout_id), 1015),
            (Some(one_line.checkout_id), 300)
        ]
    );
    let lines: Vec<(Uuid, i32, String, i32, i64)> = sqlx::query_as(
        "SELECT o.checkout_id, l.line_no, l.product_sku, l.quantity, l.unit_price_cents
         FROM order_items l JOIN orders o ON o.id = l.order_id
         ORDER BY o.checkout_id = $1 DESC, l.line_no",
    )
    .bind(two_lines.checkout_id)
    .fetch_all(order.pool())
    .await
    .unwrap();
    let (a, b) = (two_lines.checkout_id, one_line.checkout_id);
    assert_eq!(
        lines,
        [
            (a, 1, "B".to_string(), 1, 1000),
            (a, 2, "C".to_string(), 3, 5),
            (b, 1, "A".to_string(), 2, 150),
        ]
    );
    let expired: Vec<_> = order
        .staged::<CheckoutExpired>()
        .await
        .iter()
        .map(|e| e.checkout_id)
        .collect();
    // Given up before the batch; the late answer gives its checkout up; the answer for
    // the given-up checkout hears it again.
    assert_eq!(
        expired,
        [given_up.checkout_id, late.checkout_id, given_up.checkout_id]
    );
    assert_eq!(
        order.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
    assert_eq!(
        order.count("SELECT count(*) FROM checkout_answers").await,
        0,
        "an ordered checkout's answers are taken away"
    );
}

/// The order waits for both answers, whichever comes first, and is made from the
/// authorization (its payment); one answer alone makes nothing.
#[tokio::test]
async fn the_order_waits_for_both_answers_in_either_order() {
    let order = order().await;
    let (stock_first, payment_first) = (
        reserved(Some(Duration::minutes(5))),
        reserved(Some(Duration::minutes(5))),
    );
    order.processed(&stock(&stock_first)).await;
    order.processed(&payment_first).await;
    order.processed(&stock(&stock_first)).await; // repeated: still waits
    assert_eq!(orders(&order).await, 0);
    assert_eq!(
        order.count("SELECT count(*) FROM checkout_answers").await,
        2
    );
    order.processed(&stock_first).await;
    order.processed(&stock(&payment_first)).await;
    let created = order.staged::<OrderCreated>().await;
    let checkouts: Vec<_> = created.iter().map(|c| c.checkout_id).collect();
    assert_eq!(
        checkouts,
        [
            Some(stock_first.checkout_id),
            Some(payment_first.checkout_id)
        ]
    );
    let paid_by: Vec<(Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT checkout_id, payment_id FROM orders ORDER BY created_at")
            .fetch_all(order.pool())
            .await
            .unwrap();
    assert_eq!(
        paid_by,
        [
            (stock_first.checkout_id, Some(stock_first.payment_id)),
            (payment_first.checkout_id, Some(payment_first.payment_id))
        ]
    );
    assert_eq!(
        order.count("SELECT count(*) FROM checkout_answers").await,
        0
    );
    // A stock answer past the expiry gives its checkout up, like a payment one.
    let late = reserved(Some(-Duration::seconds(1)));
    order.processed(&stock(&late)).await;
    let expired = order.staged::<CheckoutExpired>().await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].checkout_id, late.checkout_id);
}

/// A checkout given up while one answer waits takes that answer with it.
#[tokio::test]
async fn a_given_up_checkout_keeps_no_waiting_answer() {
    let order = order().await;
    let checkout = reserved(Some(Duration::minutes(5)));
    order.processed(&checkout).await;
    order.processed(&give_up(&checkout)).await;
    order.processed(&stock(&checkout)).await; // late: answered with the expiry again
    given_up_once_without_an_order(&order).await;
    assert_eq!(
        order.count("SELECT count(*) FROM checkout_answers").await,
        0
    );
}

/// The two answers of each checkout arrive at once, in transactions of their own: the
/// checkout's lock lets exactly one of them make the order.
#[tokio::test]
async fn answers_racing_in_two_transactions_make_one_order_each() {
    let order = order().await;
    let checkouts: Vec<PaymentAuthorized> = (0..20)
        .map(|_| reserved(Some(Duration::minutes(5))))
        .collect();
    let answers = checkouts.iter().map(|c| async {
        let reserved = stock(c);
        tokio::join!(order.processed(&reserved), order.processed(c));
    });
    futures::future::join_all(answers).await;
    assert_eq!(orders(&order).await, 20);
    assert_eq!(order.staged::<OrderCreated>().await.len(), 20);
    assert_eq!(
        order.count("SELECT count(*) FROM checkout_answers").await,
        0
    );
}

/// A batch that mixes topics (none does today: each subscription has its own consumer)
/// still applies in event-id order: an expiry request before the answer gives the
/// checkout up, and the answer then orders nothing.
#[tokio::test]
async fn an_expiry_request_ahead_of_the_answer_in_one_batch_is_not_overtaken() {
    let order = order().await;
    let checkout = reserved(Some(Duration::minutes(5)));
    all_processed(
        order
            .deliver_mixed(vec![message(&give_up(&checkout)), message(&checkout)])
            .await,
    );
    given_up_once_without_an_order(&order).await;
    assert_eq!(
        order.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
}

/// `store::create_all`, the batch's one statement, on its own (a failing statement
/// would only send the batch down the one-by-one path, which the tests above cannot
/// tell apart): each order goes in with its own lines, a checkout decided before gets
/// none, and a checkout given twice gets one order.
#[tokio::test]
async fn the_batch_statement_creates_each_undecided_order_with_its_own_lines() {
    let order = order().await;
    let with = |sku: &str, quantity: i32| PaymentAuthorized {
        items: vec![
            LineItem {
                product_sku: cartflow_events::Sku::parse(sku).unwrap(),
                quantity,
                unit_price_cents: 10,
            },
            LineItem {
                product_sku: cartflow_events::Sku::parse("Z").unwrap(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ],
        ..reserved(None)
    };
    let (a, b, decided) = (with("A", 1), with("B", 2), with("C", 3));
    order.processed(&give_up(&decided)).await;
    fn new(r: &PaymentAuthorized) -> NewOrder<'_> {
        NewOrder {
            id: Uuid::new_v4(),
            checkout_id: r.checkout_id,
            cart_id: r.cart_id,
            customer_id: r.customer_id,
            items: &r.items,
            total_cents: 0,
            payment_id: Some(r.payment_id),
            shipping_address: None,
        }
    }
    let mut conn = order.pool().acquire().await.unwrap();
    let created = store::create_all(&mut conn, &[new(&a), new(&decided), new(&b), new(&a)])
        .await
        .unwrap();
    let mut checkouts: Vec<Uuid> = created.keys().copied().collect();
    checkouts.sort();
    let mut expected = vec![a.checkout_id, b.checkout_id];
    expected.sort();
    assert_eq!(checkouts, expected);
    let lines: Vec<(Uuid, i32, String, i32)> = sqlx::query_as(
        "SELECT order_id, line_no, product_sku, quantity FROM order_items ORDER BY product_sku",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let (of_a, of_b) = (created[&a.checkout_id], created[&b.checkout_id]);
    let z_lines: Vec<_> = lines
        .iter()
        .filter(|l| l.2 == "Z")
        .map(|l| (l.0, l.1))
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "two lines per order, for two orders: {lines:?}"
    );
    assert_eq!(
        (&lines[0], &lines[1]),
        (
            &(of_a, 1, "A".to_string(), 1),
            &(of_b, 1, "B".to_string(), 2)
        )
    );
    assert!(
        z_lines.contains(&(of_a, 2)) && z_lines.contains(&(of_b, 2)),
        "{lines:?}"
    );
    assert_eq!(
        order.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
}

/// Two answers for one checkout in one batch, the first past the expiry: as one by
/// one, the first gives the checkout up and the second orders nothing.
#[tokio::test]
async fn a_late_answer_is_not_overtaken_by_a_later_one_for_its_checkout() {
    let order = order().await;
    let late = reserved(Some(-Duration::seconds(1)));
    let in_time = PaymentAuthorized {
        expires_at: Some(Utc::now() + Duration::minutes(5)),
        ..late.clone()
    };
    all_processed(order.deliver_batch(&[late.clone(), in_time]).await);
    given_up_once_without_an_order(&order).await;
}

/// A batch's answers are ruled on against what their checkouts hold and against the
/// batch's earlier answers: both answers of one checkout in one batch make its order
/// once (a repeat of either, or another authorization, orders nothing more), made from
/// the first authorization; an answer completing one kept before
/// makes that order, and a lone answer is kept to wait for the other.
#[tokio::test]
async fn answers_in_one_batch_complete_each_other_and_those_kept_before() {
    let order = order().await;
    let (both, kept_before, lone) = (
        reserved(Some(Duration::minutes(5))),
        reserved(Some(Duration::minutes(5))),
        reserved(Some(Duration::minutes(5))),
    );
    order.processed(&stock(&kept_before)).await;
    all_processed(
        order
            .deliver_mixed(vec![
                message(&stock(&both)),
                message(&kept_before),
                message(&both),
                message(&lone),
                message(&stock(&both)),
                // A second authorization for the checkout: the first stays the one.
                message(&PaymentAuthorized {
                    payment_id: Uuid::new_v4(),
                    ..both.clone()
                }),
            ])
            .await,
    );
    let created: Vec<_> = order
        .staged::<OrderCreated>()
        .await
        .iter()
        .map(|c| c.checkout_id)
        .collect();
    assert_eq!(
        created,
        [Some(kept_before.checkout_id), Some(both.checkout_id)]
    );
    let paid_by: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "SELECT checkout_id, payment_id FROM orders ORDER BY created_at, checkout_id",
    )
    .fetch_all(order.pool())
    .await
    .unwrap();
    let mut expected = vec![
        (kept_before.checkout_id, Some(kept_before.payment_id)),
        (both.checkout_id, Some(both.payment_id)),
    ];
    expected.sort();
    let mut paid_by = paid_by;
    paid_by.sort();
    assert_eq!(
        paid_by, expected,
        "one order each, made from its authorization"
    );
    let waiting: Vec<(Uuid, bool, bool)> = sqlx::query_as(
        "SELECT checkout_id, stock_reserved, authorized IS NOT NULL FROM checkout_answers",
    )
    .fetch_all(order.pool())
    .await
    .unwrap();
    assert_eq!(
        waiting,
        [(lone.checkout_id, false, true)],
        "only the lone answer waits"
    );
    assert_eq!(
        order.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
    // The lone one's stock then makes its order from the authorization kept.
    order.processed(&stock(&lone)).await;
    let last = order.staged::<OrderCreated>().await;
    assert_eq!(
        last.last().map(|c| c.checkout_id),
        Some(Some(lone.checkout_id))
    );
    assert_eq!(last.last().map(|c| c.total_cents), Some(300));
}

//! Telling customers: the contact copy follows the newest customer event, each fact is
//! told once by email and push, and a batch of orders or of delivery results settles
//! each notification once.

use super::{details, email_on_file, notification, order};
use cartflow_events::{
    Channel, CheckoutExpired, CustomerCreated, CustomerDeleted, CustomerUpdated, DeliveryOutcome,
    DeliveryRequested, DeliveryResult, LineItem, OrderCreated,
};
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::envelope_for;
use chrono::{Duration, Utc};
use uuid::Uuid;

#[tokio::test]
async fn the_newest_customer_event_wins_whatever_the_delivery_order() {
    let notification = notification().await;
    let customer = Uuid::new_v4();
    let at = |seconds| Utc::now() + Duration::seconds(seconds);
    let mut created = envelope_for::<CustomerCreated>(customer);
    created.occurred_at = at(0);
    let mut updated = envelope_for::<CustomerUpdated>(customer);
    updated.occurred_at = at(1);
    // The update overtakes the creation.
    notification
        .deliver_as(
            &updated,
            &CustomerUpdated(details(customer, "new@example.com")),
        )
        .await
        .unwrap();
    notification
        .deliver_as(
            &created,
            &CustomerCreated(details(customer, "old@example.com")),
        )
        .await
        .unwrap();
    assert_eq!(
        email_on_file(&notification, customer).await.as_deref(),
        Some("new@example.com")
    );

    // A deletion is a tombstone: an older update arriving after it does not revive it.
    let mut deleted = envelope_for::<CustomerDeleted>(customer);
    deleted.occurred_at = at(3);
    let mut stale = envelope_for::<CustomerUpdated>(customer);
    stale.occurred_at = at(2);
    notification
        .deliver_as(
            &deleted,
            &CustomerDeleted {
                customer_id: customer,
            },
        )
        .await
        .unwrap();
    notification
        .deliver_as(
            &stale,
            &CustomerUpdated(details(customer, "stale@example.com")),
        )
        .await
        .unwrap();
    assert_eq!(email_on_file(&notification, customer).await, None);
}

#[tokio::test]
async fn each_fact_is_told_once_by_email_and_push_however_often_announced() {
    let notification = notification().await;
    let customer = Uuid::new_v4();
    notification
        .processed(&CustomerCreated(details(customer, "ann@example.com")))
        .await;
    let items = vec![LineItem {
        product_sku: cartflow_events::Sku::parse("A").unwrap(),
        quantity: 1,
        unit_price_cents: 500,
    }];
    let expired = CheckoutExpired {
        checkout_id: Uuid::new_v4(),
        cart_id: Uuid::new_v4(),
        customer_id: customer,
        items: items.clone(),
    };
    let created = OrderCreated {
        order_id: Uuid::new_v4(),
        cart_id: Uuid::new_v4(),
        checkout_id: Some(Uuid::new_v4()),
        customer_id: customer,
        items,
        total_cents: 500,
        shipping_address: None,
    };
    // Order announces each again when a re-sent expiry request reaches it.
    for _ in 0..2 {
        notification.processed(&expired).await;
        notification.processed(&created).await;
    }
    let told = |kind: &str| {
        format!(
            "SELECT count(*) FROM notifications WHERE customer_id = '{customer}' AND kind = '{kind}'"
        )
    };
    assert_eq!(notification.count(&told("checkout_expired")).await, 2);
    assert_eq!(notification.count(&told("order_confirmed")).await, 2);
    let requests = notification.staged::<DeliveryRequested>().await;
    assert_eq!(requests.len(), 2, "one request for each fact");
    let expiry = requests
        .iter()
        .find(|r| r.subject.contains("could not complete"))
        .expect("the expiry's request");
    let channels: Vec<Channel> = expiry.deliveries.iter().map(|d| d.channel).collect();
    assert_eq!(
        channels,
        [Channel::Email, Channel::Push],
        "both in one request"
    );
    assert_eq!(expiry.deliveries[0].recipient, "ann@example.com");
}

/// Delivery results that arrive in one batch settle their notifications together: each
/// pending notification takes its first result, and a second result for it, or one for
/// a notification settled before, changes nothing.
#[tokio::test]
async fn a_batch_of_delivery_results_settles_each_notification_once() {
    let notification = notification().await;
    let customer = Uuid::new_v4();
    notification
        .processed(&CustomerCreated(details(customer, "ann@example.com")))
        .await;
    notification.processed(&order(customer)).await;
    let pool = notification.pool();
    let id_of = |channel: Channel| async move {
        let id: Uuid = sqlx::query_scalar("SELECT id FROM notifications WHERE channel = $1")
            .bind(channel.as_str())
            .fetch_one(pool)
            .await
            .unwrap();
        id
    };
    let (email, push) = (id_of(Channel::Email).await, id_of(Channel::Push).await);
    let outcome = |notification_id, delivered, attempts, error: Option<&str>| DeliveryOutcome {
        notification_id,
        channel: if notification_id == email {
            Channel::Email
        } else {
            Channel::Push
        },
        delivered,
        attempts,
        error: error.map(str::to_string),
    };
    let result = |notification_id, delivered, attempts, error: Option<&str>| DeliveryResult {
        outcomes: vec![outcome(notification_id, delivered, attempts, error)],
    };
    let settled = || async {
        let rows: Vec<(String, String, i32, Option<String>)> = sqlx::query_as(
            "SELECT channel, status, attempts, last_error FROM notifications ORDER BY channel",
        )
        .fetch_all(notification.pool())
        .await
        .unwrap();
        rows
    };

    let applied = notification
        .deliver_batch(&[
            // An email's result carries the push of its request beside it.
            DeliveryResult {
                outcomes: vec![
                    outcome(email, true, 1, None),
                    outcome(push, false, 3, Some("no device")),
                ],
            },
            result(email, false, 2, Some("a late copy")),
        ])
        .await
        .unwrap();
    assert!(applied.iter().all(|a| matches!(a, Ok(Outcome::Processed))));
    let expected = vec![
        ("email".to_string(), "sent".to_string(), 1, None),
        (
            "push".to_string(),
            "failed".to_string(),
            3,
            Some("no device".to_string()),
        ),
    ];
    assert_eq!(settled().await, expected);

    let applied = notification
        .deliver_batch(&[result(push, true, 4, None)])
        .await
        .unwrap();
    assert!(matches!(applied[0], Ok(Outcome::Processed)));
    assert_eq!(settled().await, expected, "settled before: nothing changes");
    assert_eq!(
        notification.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
}

/// A batch's news is told together: each customer addressed from their own contact (or,
/// without one, push only, the email recorded as failed), each fact once however often
/// the batch announces it, and a delivery asked for each notification with an address.
#[tokio::test]
async fn a_batch_of_orders_tells_each_customer_once_from_their_own_contact() {
    let notification = notification().await;
    let (ann, stranger) = (Uuid::new_v4(), Uuid::new_v4());
    notification
        .processed(&CustomerCreated(details(ann, "ann@example.com")))
        .await;
    let (anns, strangers) = (order(ann), order(stranger));
    let applied = notification
        .deliver_batch(&[anns.clone(), strangers.clone(), anns.clone()])
        .await
        .unwrap();
    assert!(
        applied.iter().all(|a| matches!(a, Ok(Outcome::Processed))),
        "{applied:?}"
    );
    let recorded: Vec<(Uuid, String, String, Option<String>)> = sqlx::query_as(
        "SELECT customer_id, channel, status, recipient FROM notifications
         WHERE kind = 'order_confirmed' ORDER BY customer_id = $1 DESC, channel",
    )
    .bind(ann)
    .fetch_all(notification.pool())
    .await
    .unwrap();
    let (email, push) = (Channel::Email.as_str(), Channel::Push.as_str());
    let expected = vec![
        (
            ann,
            email.into(),
            "pending".into(),
            Some("ann@example.com".into()),
        ),
        (ann, push.into(), "pending".into(), Some(ann.to_string())),
        (stranger, email.into(), "failed".into(), None),
        (
            stranger,
            push.into(),
            "pending".into(),
            Some(stranger.to_string()),
        ),
    ];
    assert_eq!(recorded, expected);
    let requests = notification.staged::<DeliveryRequested>().await;
    assert_eq!(requests.len(), 2, "one request per customer told");
    let mut asked: Vec<(Option<Uuid>, Channel)> = requests
        .iter()
        .flat_map(|r| r.deliveries.iter().map(|d| (r.customer_id, d.channel)))
        .collect();
    asked.sort_by_key(|(c, ch)| (*c != Some(ann), ch.as_str()));
    assert_eq!(
        asked,
        vec![
            (Some(ann), Channel::Email),
            (Some(ann), Channel::Push),
            (Some(stranger), Channel::Push)
        ]
    );
    let to_ann = requests
        .iter()
        .flat_map(|r| &r.deliveries)
        .find(|d| d.channel == Channel::Email)
        .unwrap();
    assert!(to_ann.body.contains("Ann"), "{}", to_ann.body);
    assert_eq!(
        notification.fallbacks(),
        0,
        "applied in one go, not message by message"
    );
}

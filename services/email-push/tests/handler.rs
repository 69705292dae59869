//! Email-push on a database of its own (the per-service layer): a push lands in the
//! customer's inbox once and is reported, an email is queued once for the sender, and
//! a request that cannot be delivered is refused as poison.

use cartflow_events::{Channel, Delivery, DeliveryRequested, DeliveryResult};
use cartflow_kit::Env;
use cartflow_messaging::HandlerError;
use cartflow_messaging::consumer::Outcome;
use cartflow_testkit::HandlerHarness;
use email_push_service::EmailPushApp;
use reqwest::StatusCode;
use uuid::Uuid;

async fn email_push() -> HandlerHarness {
    let app = EmailPushApp::from_env(&Env::default()).expect("default settings");
    HandlerHarness::for_app(&app).await
}

fn request(channel: Channel, recipient: &str) -> DeliveryRequested {
    DeliveryRequested {
        customer_id: Some(Uuid::new_v4()),
        subject: "Order confirmed".into(),
        deliveries: vec![delivery(channel, recipient)],
    }
}

fn delivery(channel: Channel, recipient: &str) -> Delivery {
    Delivery {
        notification_id: Uuid::new_v4(),
        channel,
        recipient: recipient.into(),
        body: "Your order is confirmed.\nMore lines.".into(),
    }
}

/// The notification of a one-channel request.
fn notification_of(request: &DeliveryRequested) -> Uuid {
    request.deliveries[0].notification_id
}

#[tokio::test]
async fn a_push_reaches_the_inbox_once_and_is_reported() {
    let email_push = email_push().await;
    let customer = Uuid::new_v4();
    let push = request(Channel::Push, &customer.to_string());
    email_push.processed(&push).await;
    // Notification asked again (a new event id for the same notification).
    email_push.processed(&push).await;

    let (status, inbox) = email_push
        .request("GET", &format!("/push/{customer}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    assert_eq!(inbox["items"][0]["title"], "Order confirmed");
    assert!(inbox["next_page_token"].is_null(), "{inbox}");
    let results = email_push.staged::<DeliveryResult>().await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].outcomes.len(), 1);
    assert!(results[0].outcomes[0].delivered);
    assert_eq!(
        results[0].outcomes[0].notification_id,
        notification_of(&push)
    );
}

#[tokio::test]
async fn an_email_is_queued_once_for_the_sender() {
    let email_push = email_push().await;
    let email = request(Channel::Email, "ann@example.com");
    email_push.processed(&email).await;
    email_push.processed(&email).await;
    let (status, emails) = email_push
        .request("GET", "/emails?to=ann@example.com", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(emails["items"].as_array().unwrap().len(), 1, "{emails}");
    assert_eq!(emails["items"][0]["status"], "pending");
    // Nothing is reported until the sender has tried.
    assert!(email_push.staged::<DeliveryResult>().await.is_empty());
}

/// One request carries both channels of a message: its email is queued and its push
/// delivered, each once however often the request comes, and the push's result is left
/// to the email's first attempt (one result for both), not published now.
#[tokio::test]
async fn one_request_delivers_every_channel_of_a_message() {
    let email_push = email_push().await;
    let customer = Uuid::new_v4();
    let both = DeliveryRequested {
        customer_id: Some(customer),
        subject: "Order confirmed".into(),
        deliveries: vec![
            delivery(Channel::Email, "dee@example.com"),
            delivery(Channel::Push, &customer.to_string()),
        ],
    };
    email_push.processed(&both).await;
    email_push.processed(&both).await;

    let emails: Vec<(Uuid, String, Option<Uuid>)> =
        sqlx::query_as("SELECT notification_id, recipient, reports_push FROM emails")
            .fetch_all(email_push.pool())
            .await
            .unwrap();
    let (email_id, push_id) = (
        both.deliveries[0].notification_id,
        both.deliveries[1].notification_id,
    );
    assert_eq!(
        emails,
        [(email_id, "dee@example.com".into(), Some(push_id))],
        "the email reports its push"
    );
    let pushes: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT notification_id, customer_id FROM push_messages")
            .fetch_all(email_push.pool())
            .await
            .unwrap();
    assert_eq!(pushes, [(push_id, customer)]);
    assert!(
        email_push.staged::<DeliveryResult>().await.is_empty(),
        "nothing reported before the email's first attempt"
    );
}

/// A request one of whose deliveries can never be made is poison as a whole: nothing of
/// it goes in.
#[tokio::test]
async fn a_request_with_one_undeliverable_channel_delivers_nothing() {
    let email_push = email_push().await;
    let refused = email_push
        .deliver(&DeliveryRequested {
            customer_id: None,
            subject: "Order confirmed".into(),
            deliveries: vec![
                delivery(Channel::Email, "eve@example.com"),
                delivery(Channel::Push, "not-a-customer"),
            ],
        })
        .await;
    assert!(
        matches!(refused, Err(HandlerError::Poison(_))),
        "{refused:?}"
    );
    assert_eq!(email_push.count("SELECT count(*) FROM emails").await, 0);
}

#[tokio::test]
async fn a_push_for_something_that_is_not_a_customer_is_poison() {
    let email_push = email_push().await;
    let refused = email_push
        .deliver(&request(Channel::Push, "not-a-customer"))
        .await;
    assert!(
        matches!(refused, Err(HandlerError::Poison(_))),
        "{refused:?}"
    );
    assert_eq!(
        email_push.count("SELECT count(*) FROM push_messages").await,
        0
    );
    assert_eq!(
        email_push
            .count("SELECT count(*) FROM processed_messages")
            .await,
        0
    );
}

/// A new push is announced on commit with the message itself, which reads back as a
/// `Push`; one too long for a NOTIFY payload is announced by its id. A push that was
/// already there is not announced again.
#[tokio::test]
async fn a_new_push_is_announced_whole_or_by_id_and_only_once() {
    use email_push_service::store::{PUSH_CHANNEL, Push};
    let email_push = email_push().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(email_push.pool())
        .await
        .unwrap();
    listener.listen(PUSH_CHANNEL).await.unwrap();
    let mut next = async || {
        tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
            .await
            .expect("announced within 10 s")
            .unwrap()
            .payload()
            .to_string()
    };

    let customer = Uuid::new_v4();
    let short = request(Channel::Push, &customer.to_string());
    email_push.processed(&short).await;
    let announced: Push = serde_json::from_str(&next().await).expect("the payload is a Push");
    assert_eq!(announced.notification_id, notification_of(&short));
    assert_eq!(announced.customer_id, customer);
    assert_eq!(announced.title, "Order confirmed");

    let mut long = request(Channel::Push, &customer.to_string());
    long.deliveries[0].body = "x".repeat(10_000);
    email_push.processed(&long).await;
    email_push.processed(&short).await; // already delivered: no announcement
    let by_id: Uuid = next()
        .await
        .parse()
        .expect("a long push is announced by id");
    let stored: Uuid =
        sqlx::query_scalar("SELECT id FROM push_messages WHERE notification_id = $1")
            .bind(notification_of(&long))
            .fetch_one(email_push.pool())
            .await
            .unwrap();
    assert_eq!(by_id, stored);
    // The next announcement is a later push's: the repeat, committed before it, made none.
    let later = request(Channel::Push, &customer.to_string());
    email_push.processed(&later).await;
    let announced: Push = serde_json::from_str(&next().await).expect("the payload is a Push");
    assert_eq!(
        announced.notification_id,
        notification_of(&later),
        "a repeated push is not announced again"
    );
}

/// A batch's requests go in together, a statement per channel: each notification's
/// email is queued once and each push delivered and reported once, however often the
/// batch asks; a request that cannot be delivered is refused alone.
#[tokio::test]
async fn a_batch_queues_each_email_and_delivers_each_push_once() {
    let email_push = email_push().await;
    let customer = Uuid::new_v4();
    let email = request(Channel::Email, "ann@example.com");
    let push = request(Channel::Push, &customer.to_string());
    let earlier = request(Channel::Email, "bob@example.com");
    email_push.processed(&earlier).await;
    let count = |sql: &'static str| email_push.count(sql);

    let applied = email_push
        .deliver_batch(&[
            email.clone(),
            push.clone(),
            email.clone(),
            earlier.clone(),
            push.clone(),
        ])
        .await
        .unwrap();
    assert!(
        applied.iter().all(|a| matches!(a, Ok(Outcome::Processed))),
        "{applied:?}"
    );
    assert_eq!(
        count("SELECT count(*) FROM emails WHERE recipient = 'ann@example.com'").await,
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM emails WHERE recipient = 'bob@example.com'").await,
        1
    );
    assert_eq!(count("SELECT count(*) FROM push_messages").await, 1);
    let results = email_push.staged::<DeliveryResult>().await;
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(
        results[0].outcomes[0].notification_id,
        notification_of(&push)
    );
    assert_eq!(
        email_push.fallbacks(),
        0,
        "applied in one go, not message by message"
    );

    let second = request(Channel::Push, &customer.to_string());
    let applied = email_push
        .deliver_batch(&[
            second.clone(),
            request(Channel::Push, "not-a-customer"),
            request(Channel::Email, "cy@example.com"),
        ])
        .await
        .unwrap();
    assert!(matches!(applied[0], Ok(Outcome::Processed)), "{applied:?}");
    assert!(
        matches!(applied[1], Err(HandlerError::Poison(_))),
        "{applied:?}"
    );
    assert!(matches!(applied[2], Ok(Outcome::Processed)), "{applied:?}");
    assert_eq!(
        email_push.fallbacks(),
        0,
        "the poison was refused when decoded; the rest went in one go"
    );
    assert_eq!(count("SELECT count(*) FROM push_messages").await, 2);
    assert_eq!(
        count("SELECT count(*) FROM emails WHERE recipient = 'cy@example.com'").await,
        1
    );
    let results = email_push.staged::<DeliveryResult>().await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(
        results[1].outcomes[0].notification_id,
        notification_of(&second)
    );
}

//! Email-push on a database of its own (the per-service layer): a push lands in the
//! customer's inbox once and is reported, an email is queued once for the sender, and
//! a request that cannot be delivered is refused as poison.

use cartflow_events::{Channel, DeliveryRequested, DeliveryResult};
use cartflow_kit::Env;
use cartflow_messaging::HandlerError;
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
        notification_id: Uuid::new_v4(),
        customer_id: Some(Uuid::new_v4()),
        channel,
        recipient: recipient.into(),
        subject: "Order confirmed".into(),
        body: "Your order is confirmed.\nMore lines.".into(),
    }
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
    assert_eq!(inbox.as_array().unwrap().len(), 1, "{inbox}");
    assert_eq!(inbox[0]["title"], "Order confirmed");
    let results = email_push.staged::<DeliveryResult>().await;
    assert_eq!(results.len(), 1);
    assert!(results[0].delivered);
    assert_eq!(results[0].notification_id, push.notification_id);
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
    assert_eq!(emails.as_array().unwrap().len(), 1, "{emails}");
    assert_eq!(emails[0]["status"], "pending");
    // Nothing is reported until the sender has tried.
    assert!(email_push.staged::<DeliveryResult>().await.is_empty());
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

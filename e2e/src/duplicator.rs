//! The duplicate storm, from outside the platform: every message published to a saga
//! topic is published once more, with the same data and attributes (so the same event
//! id), as an at-least-once publisher retrying after a lost acknowledgement would.
//! Every consumer, pull or push, then gets each event twice. (Watermill's Duplicator
//! does this as a middleware; here it is a subscriber of the test's own, so no
//! production code carries a fault knob.)

use cartflow_events::Topic;
use cartflow_messaging::PubSubConfig;
use google_cloud_pubsub::model::Message;
use tokio::task::JoinSet;

/// Marks a copy, so the duplicator does not copy its own copies.
const COPY: &str = "cartflow_test_copy";

pub struct Duplicator {
    // Dropping the set aborts the copying tasks.
    _tasks: JoinSet<()>,
}

impl Duplicator {
    /// Subscribes to every saga topic under `pubsub`'s prefix; from now on each new
    /// message is published twice. Call before anything publishes.
    pub async fn start(pubsub: &PubSubConfig) -> Duplicator {
        let admin = pubsub.subscription_admin().await.unwrap();
        let subscriber = pubsub.subscriber().await.unwrap();
        let publishers = pubsub.publisher().await.unwrap();
        let mut tasks = JoinSet::new();
        for topic in Topic::ALL {
            let path = pubsub.subscription_path(&format!("duplicator.{}", topic.name()));
            admin
                .create_subscription()
                .set_name(&path)
                .set_topic(pubsub.topic_path(topic.name()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("creating {path}: {e}"));
            let mut stream = subscriber.subscribe(&path).build();
            let publisher = publishers
                .publisher(pubsub.topic_path(topic.name()))
                .build();
            tasks.spawn(async move {
                while let Some(Ok((message, handler))) = stream.next().await {
                    if !message.attributes.contains_key(COPY) {
                        let mut attributes = message.attributes.clone();
                        attributes.insert(COPY.into(), "1".into());
                        let copy = Message::new()
                            .set_data(message.data.clone())
                            .set_attributes(attributes);
                        if publisher.publish(copy).await.is_err() {
                            handler.nack();
                            continue;
                        }
                    }
                    handler.ack();
                }
            });
        }
        Duplicator { _tasks: tasks }
    }
}

//! Building Google's Pub/Sub clients for the emulator or the real service.
//!
//! The official SDK does not read `PUBSUB_EMULATOR_HOST` (PUBSUB-NOTES): with the
//! emulator every client gets the endpoint and anonymous credentials explicitly, so it
//! never probes the cloud metadata server. In production both are left unset and the
//! clients use Application Default Credentials.

use anyhow::Context;
use cartflow_events::Topology;
use google_cloud_pubsub::client::{BasePublisher, Subscriber, SubscriptionAdmin, TopicAdmin};

pub use cartflow_events::topology::DEFAULT_PROJECT;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubConfig {
    pub project_id: String,
    /// `host:port` of the emulator (as in `PUBSUB_EMULATOR_HOST`), or `None` for Google Cloud.
    pub emulator_host: Option<String>,
    /// Prepended to every topic and subscription name; isolates test runs.
    pub topic_prefix: String,
}

/// Applies the emulator endpoint and anonymous credentials to any of the SDK's builders
/// (they share method names but not a trait).
macro_rules! for_target {
    ($config:expr, $builder:expr) => {{
        let builder = $builder;
        match $config.emulator_endpoint() {
            Some(endpoint) => builder.with_endpoint(endpoint).with_credentials(
                google_cloud_auth::credentials::anonymous::Builder::new().build(),
            ),
            None => builder,
        }
    }};
}

impl PubSubConfig {
    pub fn emulator(host: impl Into<String>, project_id: impl Into<String>) -> Self {
        PubSubConfig {
            project_id: project_id.into(),
            emulator_host: Some(host.into()),
            topic_prefix: String::new(),
        }
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic_prefix = prefix.into();
        self
    }

    fn emulator_endpoint(&self) -> Option<String> {
        self.emulator_host.as_ref().map(|host| {
            if host.starts_with("http://") || host.starts_with("https://") {
                host.clone()
            } else {
                format!("http://{host}")
            }
        })
    }

    pub fn topology(&self) -> Topology {
        Topology::default()
    }

    pub fn project_path(&self) -> String {
        format!("projects/{}", self.project_id)
    }

    /// Full topic name for a short (unprefixed) name.
    pub fn topic_path(&self, short: &str) -> String {
        format!(
            "projects/{}/topics/{}{}",
            self.project_id, self.topic_prefix, short
        )
    }

    /// Full subscription name for a short (unprefixed) name.
    pub fn subscription_path(&self, short: &str) -> String {
        format!(
            "projects/{}/subscriptions/{}{}",
            self.project_id, self.topic_prefix, short
        )
    }

    pub async fn topic_admin(&self) -> anyhow::Result<TopicAdmin> {
        for_target!(self, TopicAdmin::builder())
            .build()
            .await
            .context("building the Pub/Sub topic admin client")
    }

    pub async fn subscription_admin(&self) -> anyhow::Result<SubscriptionAdmin> {
        for_target!(self, SubscriptionAdmin::builder())
            .build()
            .await
            .context("building the Pub/Sub subscription admin client")
    }

    pub async fn publisher(&self) -> anyhow::Result<BasePublisher> {
        for_target!(self, BasePublisher::builder())
            .build()
            .await
            .context("building the Pub/Sub publisher client")
    }

    pub async fn subscriber(&self) -> anyhow::Result<Subscriber> {
        for_target!(self, Subscriber::builder())
            .build()
            .await
            .context("building the Pub/Sub subscriber client")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_full_and_prefixed() {
        let config = PubSubConfig::emulator("127.0.0.1:8085", "p1").with_prefix("t9-");
        assert_eq!(
            config.topic_path("order.created"),
            "projects/p1/topics/t9-order.created"
        );
        assert_eq!(
            config.subscription_path("cart.order.created"),
            "projects/p1/subscriptions/t9-cart.order.created"
        );
        assert_eq!(
            config.emulator_endpoint().as_deref(),
            Some("http://127.0.0.1:8085")
        );
        let cloud = PubSubConfig {
            emulator_host: None,
            ..config
        };
        assert_eq!(cloud.emulator_endpoint(), None);
    }
}

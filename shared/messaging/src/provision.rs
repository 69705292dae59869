//! Creates the declared topology, idempotently: what exists is left alone.

use crate::PubSubConfig;
use anyhow::Context;
use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::model::{DeadLetterPolicy, RetryPolicy};

/// What provisioning did, for logs and the operator.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProvisionReport {
    pub created: Vec<String>,
    pub existing: Vec<String>,
}

fn is_status(err: &google_cloud_pubsub::Error, code: Code, http: u16) -> bool {
    err.status().is_some_and(|s| s.code == code) || err.http_status_code() == Some(http)
}

/// Requests sent to the emulator or Pub/Sub at once while provisioning.
const CONCURRENCY: usize = 8;

/// Records the outcome of one create call: created, already there, or an error.
fn record(
    report: &mut ProvisionReport,
    path: String,
    result: google_cloud_pubsub::Result<()>,
) -> anyhow::Result<()> {
    match result {
        Ok(()) => report.created.push(path),
        Err(e) if is_status(&e, Code::AlreadyExists, 409) => report.existing.push(path),
        Err(e) => return Err(e).with_context(|| format!("creating {path}")),
    }
    Ok(())
}

/// Creates every topic, subscription, dead-letter topic and dead-letter subscription of
/// the topology under `config`'s prefix. Safe to run any number of times.
///
/// The order matters when an emulator restarted empty and the services are restoring
/// it while their relays keep retrying: an event published to a topic that exists
/// before its subscriptions do reaches nobody. So dead-letter topics come first (the
/// subscriptions name them) with their own subscriptions, then each saga topic is
/// followed at once by its subscriptions, several topics at a time: a topic stands
/// without its subscriptions only for the one round of requests that creates them.
pub async fn provision(config: &PubSubConfig) -> anyhow::Result<ProvisionReport> {
    use futures::stream::{self, StreamExt};
    let topology = config.topology();
    let topics = &config.topic_admin().await?;
    let subscriptions = &config.subscription_admin().await?;
    let mut report = ProvisionReport::default();

    let retention = google_cloud_wkt::Duration::clamp(
        cartflow_events::topology::MESSAGE_RETENTION_SECONDS as i64,
        0,
    );
    let mut plan: Vec<(String, Vec<Subscription>)> = Vec::new();
    for sub in topology.subscriptions() {
        // The dead-letter topic's own subscription keeps dead-lettered messages for
        // inspection and replay; without it they would be dropped.
        let parking = subscriptions
            .create_subscription()
            .set_name(config.subscription_path(&sub.dead_letter_topic))
            .set_topic(config.topic_path(&sub.dead_letter_topic))
            .set_ack_deadline_seconds(cartflow_events::topology::PARKING_ACK_DEADLINE_SECONDS)
            .set_message_retention_duration(retention);
        plan.push((
            sub.dead_letter_topic.clone(),
            vec![(config.subscription_path(&sub.dead_letter_topic), parking)],
        ));
    }
    for topic in cartflow_events::Topic::ALL {
        let mut mains = Vec::new();
        for sub in topology.subscriptions().iter().filter(|s| s.topic == topic) {
            let retry = RetryPolicy::new()
                .set_minimum_backoff(google_cloud_wkt::Duration::try_from(
                    sub.retry.minimum_backoff,
                )?)
                .set_maximum_backoff(google_cloud_wkt::Duration::try_from(
                    sub.retry.maximum_backoff,
                )?);
            let dead_letter = DeadLetterPolicy::new()
                .set_dead_letter_topic(config.topic_path(&sub.dead_letter_topic))
                .set_max_delivery_attempts(sub.max_delivery_attempts);
            let main = subscriptions
                .create_subscription()
                .set_name(config.subscription_path(&sub.name))
                .set_topic(config.topic_path(sub.topic.name()))
                .set_ack_deadline_seconds(sub.ack_deadline_seconds)
                .set_message_retention_duration(retention)
                .set_retry_policy(retry)
                .set_dead_letter_policy(dead_letter);
            mains.push((config.subscription_path(&sub.name), main));
        }
        plan.push((topic.name().to_string(), mains));
    }

    // Dead-letter topics (with their parking subscriptions) all exist before any
    // subscription names one.
    let saga = plan.split_off(topology.subscriptions().len());
    for phase in [plan, saga] {
        let mut done = stream::iter(phase)
            .map(|(topic, subs)| create_with_subscriptions(config, topics, topic, subs))
            .buffer_unordered(CONCURRENCY);
        while let Some(results) = done.next().await {
            for (path, result) in results {
                record(&mut report, path, result)?;
            }
        }
    }
    Ok(report)
}

/// Creates `topic`, then (if it exists now) its subscriptions, all at once.
async fn create_with_subscriptions(
    config: &PubSubConfig,
    topics: &google_cloud_pubsub::client::TopicAdmin,
    topic: String,
    subs: Vec<Subscription>,
) -> Vec<(String, google_cloud_pubsub::Result<()>)> {
    let path = config.topic_path(&topic);
    let retention = google_cloud_wkt::Duration::clamp(
        cartflow_events::topology::MESSAGE_RETENTION_SECONDS as i64,
        0,
    );
    let created = topics
        .create_topic()
        .set_name(&path)
        .set_message_retention_duration(retention)
        .send()
        .await
        .map(drop);
    let exists = match &created {
        Ok(()) => true,
        Err(e) => is_status(e, Code::AlreadyExists, 409),
    };
    let mut results = vec![(path, created)];
    if exists {
        let requests = subs
            .into_iter()
            .map(|(path, request)| async move { (path, request.send().await.map(drop)) });
        results.extend(futures::future::join_all(requests).await);
    }
    results
}

/// A subscription to create, by its full path.
type Subscription = (
    String,
    google_cloud_pubsub::builder::subscription_admin::CreateSubscription,
);

/// Deletes every topic and subscription whose name starts with `config`'s prefix:
/// the declared topology and anything a test added beside it. Used by tests so a
/// long-running emulator does not accumulate topologies. Refuses an empty prefix.
pub async fn teardown(config: &PubSubConfig) -> anyhow::Result<()> {
    use google_cloud_gax::paginator::ItemPaginator;
    anyhow::ensure!(
        !config.topic_prefix.is_empty(),
        "refusing to delete an unprefixed topology"
    );
    let subscriptions = config.subscription_admin().await?;
    let mut names = Vec::new();
    let mut listed = subscriptions
        .list_subscriptions()
        .set_project(config.project_path())
        .by_item();
    while let Some(sub) = listed.next().await {
        names.push(sub.context("listing subscriptions")?.name);
    }
    delete_prefixed(names, &config.subscription_path(""), |path| {
        subscriptions
            .delete_subscription()
            .set_subscription(path)
            .send()
    })
    .await?;

    let topics = config.topic_admin().await?;
    let mut names = Vec::new();
    let mut listed = topics
        .list_topics()
        .set_project(config.project_path())
        .by_item();
    while let Some(topic) = listed.next().await {
        names.push(topic.context("listing topics")?.name);
    }
    delete_prefixed(names, &config.topic_path(""), |path| {
        topics.delete_topic().set_topic(path).send()
    })
    .await
}

/// Deletes each of `names` that starts with `prefix`; already gone is fine.
async fn delete_prefixed<F, Fut>(names: Vec<String>, prefix: &str, delete: F) -> anyhow::Result<()>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = google_cloud_pubsub::Result<()>>,
{
    for path in names.into_iter().filter(|n| n.starts_with(prefix)) {
        match delete(path.clone()).await {
            Ok(()) => {}
            Err(e) if is_status(&e, Code::NotFound, 404) => {}
            Err(e) => return Err(e).with_context(|| format!("deleting {path}")),
        }
    }
    Ok(())
}

/// Cheap reachability probe for the operator CLI: one list call on the project.
pub async fn ping(
    config: &PubSubConfig,
    topics: &google_cloud_pubsub::client::TopicAdmin,
) -> anyhow::Result<()> {
    topics
        .list_topics()
        .set_project(config.project_path())
        .set_page_size(1)
        .send()
        .await
        .context("listing topics")?;
    Ok(())
}

/// Points every subscription of each given service at `<base URL>/pubsub/push`
/// (`path`), turning it into a push subscription; with an empty base URL, back to
/// pull. Used locally (the emulator pushes without tokens); in Google Cloud,
/// Terraform sets the push config with its OIDC token instead.
pub async fn set_push_endpoints(
    config: &PubSubConfig,
    endpoints: &[(cartflow_events::Service, String)],
    path: &str,
) -> anyhow::Result<()> {
    use google_cloud_pubsub::model::PushConfig;
    let subscriptions = config.subscription_admin().await?;
    let topology = config.topology();
    for (service, base_url) in endpoints {
        for sub in topology.subscriptions_of(*service) {
            let push = if base_url.is_empty() {
                PushConfig::new()
            } else {
                PushConfig::new()
                    .set_push_endpoint(format!("{}{path}", base_url.trim_end_matches('/')))
            };
            let name = config.subscription_path(&sub.name);
            subscriptions
                .modify_push_config()
                .set_subscription(&name)
                .set_push_config(push)
                .send()
                .await
                .with_context(|| format!("setting the push endpoint of {name}"))?;
        }
    }
    Ok(())
}

/// Reachability probe for a service's `/ready`: reads one of its own topics, which is
/// all its least-privilege account may see in Google Cloud (listing the project's
/// topics would need a project-wide role).
pub async fn ping_topic(
    config: &PubSubConfig,
    topics: &google_cloud_pubsub::client::TopicAdmin,
    topic: &str,
) -> anyhow::Result<()> {
    let path = config.topic_path(topic);
    topics
        .get_topic()
        .set_topic(&path)
        .send()
        .await
        .with_context(|| format!("reading {path}"))?;
    Ok(())
}

/// Re-creates the topology if `own_topic` is gone: what an emulator restart does,
/// since the emulator keeps nothing. Returns what it created, or `None` when the topic
/// was there. Never for Google Cloud, where Terraform owns the topology and a
/// service's account may not create it.
pub async fn restore_if_lost(
    config: &PubSubConfig,
    topics: &google_cloud_pubsub::client::TopicAdmin,
    own_topic: &str,
) -> anyhow::Result<Option<ProvisionReport>> {
    let path = config.topic_path(own_topic);
    match topics.get_topic().set_topic(&path).send().await {
        Ok(_) => Ok(None),
        Err(e) if is_status(&e, Code::NotFound, 404) => Ok(Some(provision(config).await?)),
        Err(e) => Err(e).with_context(|| format!("reading {path}")),
    }
}

/// Checks every `interval` until `shutdown` that the topology is still there, and
/// restores it when it is not (see [`restore_if_lost`]). While Pub/Sub is unreachable
/// it only waits: `/ready` reports that meanwhile. `back` is bumped whenever the
/// topology is whole again after it was lost or out of reach (restored here or by
/// another service), so the consumers re-open their streams at once.
pub async fn keep_topology(
    config: PubSubConfig,
    own_topic: &'static str,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
    back: tokio::sync::watch::Sender<u64>,
) {
    let topics = match config.topic_admin().await {
        Ok(topics) => topics,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "cannot watch the topology");
            return;
        }
    };
    let mut out_of_reach = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let check = restore_if_lost(&config, &topics, own_topic);
        let whole_again = match tokio::time::timeout(
            interval.max(std::time::Duration::from_secs(5)),
            check,
        )
        .await
        {
            Ok(Ok(Some(report))) => {
                tracing::warn!(
                    created = report.created.len(),
                    existing = report.existing.len(),
                    "the Pub/Sub topology was gone (emulator restarted?); re-created it"
                );
                true
            }
            Ok(Ok(None)) => std::mem::take(&mut out_of_reach),
            Ok(Err(err)) => {
                tracing::debug!(
                    error = format!("{err:#}"),
                    "topology check failed; Pub/Sub unreachable?"
                );
                out_of_reach = true;
                false
            }
            Err(_) => {
                tracing::debug!("topology check timed out; Pub/Sub unreachable?");
                out_of_reach = true;
                false
            }
        };
        if whole_again {
            back.send_modify(|generation| *generation += 1);
        }
    }
}

/// How long a message for `service` can come back from Pub/Sub: the longest message
/// retention among its subscriptions (redelivery), their dead-letter subscriptions (a
/// dead letter replayed) and their topics (a `seek` back in time replays what the topic
/// retained), as Pub/Sub reports them. Where none is set,
/// Pub/Sub's default of 7 days for subscriptions stands.
pub async fn longest_retention(
    config: &PubSubConfig,
    service: cartflow_events::Service,
) -> anyhow::Result<std::time::Duration> {
    let subscriptions = config.subscription_admin().await?;
    let topics = config.topic_admin().await?;
    let seconds = |d: Option<google_cloud_wkt::Duration>| {
        d.map_or(0, |d| u64::try_from(d.seconds()).unwrap_or(0))
    };
    let mut longest = crate::retention::DEFAULT_SUBSCRIPTION_RETENTION.as_secs();
    for sub in config.topology().subscriptions_of(service) {
        // Its dead letters too: `dlq replay` can bring one back as long as its own
        // subscription keeps it, with the event id it was first published with.
        for name in [&sub.name, &sub.dead_letter_topic] {
            let path = config.subscription_path(name);
            let found = subscriptions
                .get_subscription()
                .set_subscription(&path)
                .send()
                .await
                .with_context(|| format!("reading {path}"))?;
            longest = longest.max(seconds(found.message_retention_duration));
        }
        let path = config.topic_path(sub.topic.name());
        let found = topics
            .get_topic()
            .set_topic(&path)
            .send()
            .await
            .with_context(|| format!("reading {path}"))?;
        longest = longest.max(seconds(found.message_retention_duration));
    }
    Ok(std::time::Duration::from_secs(longest))
}

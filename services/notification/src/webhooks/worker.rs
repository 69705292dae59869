//! The delivery worker: takes the due head of each endpoint's queue, calls the
//! endpoints concurrently (one call in flight per endpoint, at most
//! `WEBHOOK_MAX_CONCURRENCY` in all, each bounded by `WEBHOOK_TIMEOUT_MS`), and records
//! every call. It runs beside the consumers and never inside their transactions: a slow
//! or dead endpoint holds one slot until its timeout, never another endpoint's queue nor
//! the saga.

use super::WebhookSettings;
use super::sign::Keys;
use super::store::{self, CallRecord, Paused, Settled, Taken};
use super::target::GuardedResolver;
use crate::domain::To;
use crate::{notify, templates};
use cartflow_events::Channel;
use cartflow_messaging::{Cause, Outbox};
use chrono::Utc;
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How much of an answer's body is kept with the attempt.
const RESPONSE_HEAD_BYTES: usize = 1024;
/// How often settled deliveries past their retention are removed, and the queue sampled.
const UPKEEP_EVERY: Duration = Duration::from_secs(60);
const RETENTION_BATCH: i64 = 1000;

/// The client every webhook call goes through: no redirects, no proxy, the timeout, and
/// a resolver that refuses private addresses.
pub fn client(settings: &WebhookSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(GuardedResolver {
            allow_loopback: settings.allow_loopback,
        })
        .user_agent(concat!("cartflow-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the webhook HTTP client builds")
}

/// The answer to one call, as recorded.
pub struct Answer {
    pub status: Option<u16>,
    pub head: Option<String>,
    pub error: Option<String>,
    pub latency: Duration,
}

impl Answer {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Posts `body` to `url`, signed with `keys` under `id`; reads the start of the answer.
pub async fn call(
    http: &reqwest::Client,
    allow_loopback: bool,
    url: &str,
    id: &str,
    keys: &Keys,
    body: &str,
) -> Answer {
    let started = Instant::now();
    let failed = |error: String| Answer {
        status: None,
        head: None,
        error: Some(error),
        latency: started.elapsed(),
    };
    // The literal address is checked again (the resolver sees only names).
    if let Err(refusal) = super::target::parse(url, allow_loopback) {
        return failed(refusal);
    }
    let signed = match keys.sign(id, Utc::now(), body) {
        Ok(signed) => signed,
        Err(err) => return failed(format!("{err:#}")),
    };
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &signed.id)
        .header("webhook-timestamp", signed.timestamp.to_string())
        .header("webhook-signature", &signed.signature)
        .body(body.to_string())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(err) => return failed(describe(&err)),
    };
    let status = response.status().as_u16();
    let mut head = Vec::new();
    let mut error = None;
    while head.len() < RESPONSE_HEAD_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(err) => {
                error = Some(describe(&err));
                break;
            }
        }
    }
    head.truncate(RESPONSE_HEAD_BYTES);
    let head = String::from_utf8_lossy(&head).into_owned();
    Answer {
        status: Some(status),
        head: (!head.is_empty()).then_some(head),
        error: error
            .or_else(|| (!(200..300).contains(&status)).then(|| format!("answered {status}"))),
        latency: started.elapsed(),
    }
}

/// An error's whole chain, as an operator reads it (reqwest's top line says little).
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Runs until `stop`, then lets the calls in flight finish (each within its timeout).
/// Writes through `outbox`: the email that tells staff an endpoint was paused is
/// staged in the transaction that pauses it.
pub async fn run(outbox: Outbox, settings: WebhookSettings, stop: CancellationToken) {
    let pool = outbox.pool().clone();
    let http = client(&settings);
    // A lease outlives the call (and the recording after it): a delivery whose worker
    // died is taken again once its lease ends.
    let lease = settings.timeout * 2 + Duration::from_secs(5);
    let mut in_flight: JoinSet<()> = JoinSet::new();
    // The endpoint of each call in flight: one call per endpoint at a time.
    let mut calling: HashMap<tokio::task::Id, Uuid> = HashMap::new();
    let mut upkeep_due = Instant::now();
    loop {
        while let Some(done) = in_flight.try_join_next_with_id() {
            finished(done, &mut calling);
        }
        if upkeep_due <= Instant::now() {
            upkeep(&pool, &settings).await;
            upkeep_due = Instant::now() + UPKEEP_EVERY;
        }
        let room = settings.max_concurrency.saturating_sub(in_flight.len());
        if room > 0 {
            let busy: Vec<Uuid> = calling.values().copied().collect();
            match store::take_due(&pool, &busy, room as i64, lease).await {
                Ok(taken) => {
                    for delivery in taken {
                        let endpoint = delivery.endpoint_id;
                        let (outbox, http, settings) =
                            (outbox.clone(), http.clone(), settings.clone());
                        let task = in_flight.spawn(async move {
                            deliver(&outbox, &http, &settings, delivery).await;
                        });
                        calling.insert(task.id(), endpoint);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "taking due webhook deliveries failed"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                finished(done, &mut calling);
            }
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
    while in_flight.join_next().await.is_some() {}
}

/// Forgets a call that ended (one that panicked too: its delivery is taken again once
/// its lease ends).
fn finished(
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    calling: &mut HashMap<tokio::task::Id, Uuid>,
) {
    let id = match done {
        Ok((id, ())) => id,
        Err(err) => {
            tracing::error!(error = %err, "a webhook call panicked; it is retried after its lease");
            err.id()
        }
    };
    calling.remove(&id);
}

/// One call of `delivery`, recorded.
async fn deliver(
    outbox: &Outbox,
    http: &reqwest::Client,
    settings: &WebhookSettings,
    taken: Taken,
) {
    let started_at = Utc::now();
    let answer = call(
        http,
        settings.allow_loopback,
        &taken.url,
        &taken.event_id.to_string(),
        &taken.keys,
        &taken.body,
    )
    .await;
    let delivered = answer.succeeded();
    let attempt = taken.attempts + 1;
    let retry_in =
        (!delivered && attempt < settings.retry.attempts).then(|| settings.retry.jittered(attempt));
    let record = CallRecord {
        started_at,
        latency_ms: answer.latency.as_millis().min(i32::MAX as u128) as i32,
        status_code: answer.status.map(i32::from),
        response_head: answer.head,
        error: answer.error,
        delivered,
    };
    metrics::histogram!("cartflow_webhook_call_duration_seconds", "service" => "notification")
        .record(answer.latency.as_secs_f64());
    let last_error = record.error.clone().unwrap_or_default();
    let recorded = async {
        // A cause of its own: the staff email (if any) starts a saga of its own.
        let mut tx = outbox.begin_for(Cause::command(Uuid::new_v4())).await?;
        let (settled, paused) = store::record_call(
            tx.conn(),
            &taken,
            &record,
            retry_in,
            settings.auto_pause_after,
        )
        .await?;
        if let Some(paused) = &paused {
            tell_staff(&mut tx, settings, taken.endpoint_id, paused, &last_error).await?;
        }
        tx.commit().await?;
        anyhow::Ok((settled, paused))
    };
    match recorded.await {
        Ok((settled, paused)) => {
            let outcome = match settled {
                Settled::Delivered => "delivered",
                Settled::Retry => "failed",
                Settled::Parked => "parked",
            };
            metrics::counter!("cartflow_webhook_deliveries_total",
                "service" => "notification", "outcome" => outcome)
            .increment(1);
            if settled == Settled::Delivered {
                let waited = (Utc::now() - taken.queued_at).to_std().unwrap_or_default();
                metrics::histogram!("cartflow_webhook_delivery_lag_seconds", "service" => "notification")
                    .record(waited.as_secs_f64());
            }
            if settled == Settled::Parked {
                tracing::warn!(delivery_id = %taken.id, endpoint_id = %taken.endpoint_id,
                    event_id = %taken.event_id, attempts = attempt,
                    "webhook delivery parked after its last retry; replay sends it again");
            }
            if let Some(paused) = paused {
                tracing::error!(endpoint_id = %taken.endpoint_id,
                    failing_since = %paused.failing_since,
                    "webhook endpoint paused: every call failed for too long; staff were emailed");
            }
        }
        Err(err) => tracing::warn!(delivery_id = %taken.id, error = format!("{err:#}"),
            "recording a webhook call failed; the delivery is retried after its lease"),
    }
}

/// Emails staff (`WEBHOOK_ALERT_EMAIL`) that an endpoint was paused, once per pause.
async fn tell_staff(
    tx: &mut cartflow_messaging::Tx,
    settings: &WebhookSettings,
    endpoint_id: Uuid,
    paused: &Paused,
    last_error: &str,
) -> anyhow::Result<()> {
    let url = cartflow_kit::redact::url(&paused.url);
    let message = templates::webhook_paused(endpoint_id, &url, paused.failing_since, last_error);
    // Once per pause: the source is the endpoint and the start of its failing streak.
    let source = Uuid::new_v5(&endpoint_id, paused.failing_since.to_rfc3339().as_bytes());
    let to = To {
        customer_id: None,
        email: Some(&settings.alert_email),
    };
    notify::send(tx, Some(source), to, &message, &[Channel::Email]).await?;
    Ok(())
}

/// Removes settled deliveries past their retention and samples each endpoint's queue.
async fn upkeep(pool: &PgPool, settings: &WebhookSettings) {
    loop {
        match store::remove_settled(pool, settings.retention, RETENTION_BATCH).await {
            Ok(n) if n == RETENTION_BATCH as u64 => continue,
            Ok(_) => break,
            Err(err) => {
                tracing::warn!(error = %err, "removing old webhook deliveries failed");
                break;
            }
        }
    }
    match store::queue_ages(pool).await {
        Ok(ages) => {
            for (endpoint, waiting, age) in ages {
                let endpoint = endpoint.to_string();
                metrics::gauge!("cartflow_webhook_queue_waiting",
                    "service" => "notification", "endpoint" => endpoint.clone())
                .set(waiting as f64);
                metrics::gauge!("cartflow_webhook_queue_oldest_seconds",
                    "service" => "notification", "endpoint" => endpoint)
                .set(age.max(0.0));
            }
        }
        Err(err) => tracing::debug!(error = %err, "sampling webhook queues failed"),
    }
}

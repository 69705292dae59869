//! The settings of the messaging crate's parts (consumer, relay, retention) and of
//! push delivery, read from the environment; each bad value is named in `errors`.

use super::Env;
use crate::push::{DeliveryMode, PushAuth};
use cartflow_messaging::consumer::MAX_BATCH_SIZE;
use cartflow_messaging::retention::{DEFAULT_SUBSCRIPTION_RETENTION, RetentionSettings};
use cartflow_messaging::{ConsumerSettings, RelaySettings};
use std::time::Duration;

/// `CONSUMER_*`: how a subscription's messages are taken and batched.
pub(super) fn consumer_settings(env: &Env, errors: &mut Vec<String>) -> ConsumerSettings {
    let defaults = ConsumerSettings::default();
    let consumer = ConsumerSettings {
        max_concurrency: env
            .parse_or(
                &["CONSUMER_MAX_CONCURRENCY"],
                defaults.max_concurrency,
                "a whole number ≥ 1",
                errors,
            )
            .max(1),
        batch_size: env.parse_or(
            &["CONSUMER_BATCH_SIZE"],
            defaults.batch_size,
            "a whole number from 1 to 64",
            errors,
        ),
        max_outstanding_messages: env.parse_or(
            &["CONSUMER_MAX_OUTSTANDING"],
            defaults.max_outstanding_messages,
            "a whole number",
            errors,
        ),
        lease_extension: Duration::from_secs(env.parse_or(
            &["CONSUMER_LEASE_EXTENSION_SECS"],
            defaults.lease_extension.as_secs(),
            "seconds (10-600)",
            errors,
        )),
        gather_window: Duration::from_millis(env.parse_or(
            &["PUSH_GATHER_WINDOW_MS"],
            defaults.gather_window.as_millis() as u64,
            "milliseconds (0-1000)",
            errors,
        )),
    };
    if consumer.gather_window > Duration::from_secs(1) {
        errors.push(format!(
            "PUSH_GATHER_WINDOW_MS='{}': expected milliseconds from 0 to 1000 (each \
             pushed message may wait that long for company)",
            consumer.gather_window.as_millis()
        ));
    }
    if !(1..=MAX_BATCH_SIZE).contains(&consumer.batch_size) {
        errors.push(format!(
            "CONSUMER_BATCH_SIZE='{}': expected a whole number from 1 to {MAX_BATCH_SIZE} \
             (a savepoint per message; PostgreSQL caches 64 per transaction)",
            consumer.batch_size
        ));
    }
    consumer
}

/// `OUTBOX_*`: how the relay publishes; publish-before-response is on by default in
/// push mode (Cloud Run throttles the CPU after a response).
pub(super) fn relay_settings(
    env: &Env,
    delivery: &DeliveryMode,
    errors: &mut Vec<String>,
) -> RelaySettings {
    let defaults = RelaySettings::default();
    RelaySettings {
        batch_size: env
            .parse_or(
                &["OUTBOX_BATCH_SIZE"],
                defaults.batch_size,
                "a whole number ≥ 1",
                errors,
            )
            .max(1),
        sweep_interval: Duration::from_millis(env.parse_or(
            &["OUTBOX_SWEEP_MS"],
            defaults.sweep_interval.as_millis() as u64,
            "milliseconds",
            errors,
        )),
        mark_interval: Duration::from_millis(env.parse_or(
            &["OUTBOX_MARK_MS"],
            defaults.mark_interval.as_millis() as u64,
            "milliseconds",
            errors,
        )),
        publish_before_response: env.parse_or(
            &["OUTBOX_PUBLISH_BEFORE_RESPONSE"],
            matches!(delivery, DeliveryMode::Push(_)),
            "true or false",
            errors,
        ),
        publish_timeout: Duration::from_millis(env.parse_or(
            &["OUTBOX_PUBLISH_TIMEOUT_MS"],
            defaults.publish_timeout.as_millis() as u64,
            "milliseconds",
            errors,
        )),
        background: env.parse_or(&["OUTBOX_BACKGROUND_RELAY"], true, "true or false", errors),
        ..defaults
    }
}

/// The retention windows, and the refusal of a dedup window shorter than Pub/Sub's
/// default retention plus the replay horizon (the service checks the subscriptions'
/// actual retention again at start-up).
pub(super) fn retention_settings(env: &Env, errors: &mut Vec<String>) -> RetentionSettings {
    let defaults = RetentionSettings::default();
    let days = |name: &str, default: Duration, errors: &mut Vec<String>| {
        let value: f64 = env.parse_or(
            &[name],
            default.as_secs_f64() / 86_400.0,
            "a number of days > 0",
            errors,
        );
        if value.is_finite() && value > 0.0 {
            Duration::from_secs_f64(value * 86_400.0)
        } else {
            errors.push(format!("{name}='{value}': expected a number of days > 0"));
            default
        }
    };
    let retention = RetentionSettings {
        inbox: days("INBOX_RETENTION_DAYS", defaults.inbox, errors),
        outbox: days("OUTBOX_RETENTION_DAYS", defaults.outbox, errors),
        failures: days("FAILURES_RETENTION_DAYS", defaults.failures, errors),
        interval: Duration::from_secs(
            env.parse_or(
                &["RETENTION_INTERVAL_SECS"],
                defaults.interval.as_secs(),
                "seconds ≥ 1",
                errors,
            )
            .max(1),
        ),
        batch_size: env
            .parse_or(
                &["RETENTION_BATCH_SIZE"],
                defaults.batch_size,
                "a whole number ≥ 1",
                errors,
            )
            .max(1),
        pause: Duration::from_millis(env.parse_or(
            &["RETENTION_PAUSE_MS"],
            defaults.pause.as_millis() as u64,
            "milliseconds",
            errors,
        )),
        sleep_coef: {
            let coef: f64 = env.parse_or(
                &["RETENTION_SLEEP_COEF"],
                defaults.sleep_coef,
                "a number from 0 to 100",
                errors,
            );
            // Bounded, so that no batch's rest can overflow a `Duration`.
            if (0.0..=100.0).contains(&coef) {
                coef
            } else {
                errors.push(format!(
                    "RETENTION_SLEEP_COEF='{coef}': expected a number from 0 to 100"
                ));
                defaults.sleep_coef
            }
        },
    };
    if let Err(refusal) = retention.check_dedup_window(DEFAULT_SUBSCRIPTION_RETENTION) {
        errors.push(format!("INBOX_RETENTION_DAYS: {refusal}"));
    }
    retention
}

/// `PUBSUB_DELIVERY` and, for push, who may push.
pub(super) fn delivery_mode(env: &Env, emulator: bool, errors: &mut Vec<String>) -> DeliveryMode {
    match env.get("PUBSUB_DELIVERY").map(str::trim) {
        None | Some("pull") => return DeliveryMode::Pull,
        Some("push") => {}
        Some(other) => {
            errors.push(format!("PUBSUB_DELIVERY='{other}': expected pull or push"));
            return DeliveryMode::Pull;
        }
    }
    let auth = match env.get("PUSH_AUTH").map(str::trim) {
        None | Some("oidc") => {
            let audience = env.get("PUSH_AUDIENCE");
            if audience.is_none() {
                errors.push(
                    "PUSH_AUDIENCE: required with PUBSUB_DELIVERY=push (the audience the push \
                     subscription puts in its OIDC token, usually the service's URL)"
                        .into(),
                );
            }
            // Without it any Google-signed token for the audience would do, whoever
            // had it minted.
            let service_account = env.get("PUSH_SERVICE_ACCOUNT");
            if service_account.is_none() {
                errors.push(
                    "PUSH_SERVICE_ACCOUNT: required with PUBSUB_DELIVERY=push and PUSH_AUTH=oidc \
                     (the email of the service account the push subscription signs its tokens as)"
                        .into(),
                );
            }
            match (audience, service_account) {
                (Some(audience), Some(service_account)) => PushAuth::Oidc {
                    audience: audience.trim().to_string(),
                    service_account: service_account.trim().to_string(),
                    jwks_url: env.get("PUSH_JWKS_URL").map(|v| v.trim().to_string()),
                },
                _ => PushAuth::Unauthenticated,
            }
        }
        Some("none") if emulator => PushAuth::Unauthenticated,
        Some("none") => {
            errors.push(
                "PUSH_AUTH='none': only allowed with PUBSUB_EMULATOR_HOST (the emulator cannot \
                 sign tokens; Google Cloud always can)"
                    .into(),
            );
            PushAuth::Unauthenticated
        }
        Some(other) => {
            errors.push(format!("PUSH_AUTH='{other}': expected oidc or none"));
            PushAuth::Unauthenticated
        }
    };
    DeliveryMode::Push(auth)
}

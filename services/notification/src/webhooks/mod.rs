//! Outgoing webhooks: staff subscribe URLs to event types (`/webhooks`), every consumed
//! event of those types is queued once per endpoint in the consumer's own transaction
//! ([`store::enqueue`], called by the handler), and a worker ([`worker`]) posts each
//! one, signed per Standard Webhooks ([`sign`]), retrying with backoff until delivered
//! or parked. docs/webhooks.md is the receiver's and operator's guide.
//!
//! Notification is their home because it already consumes every order and payment
//! event and low stock, and already tells the outside world: the webhook events cost
//! one subscription more (`product.changed`), not a service with its own database,
//! runtime and topology entries.

pub mod routes;
pub mod sign;
pub mod store;
pub mod target;
pub mod worker;

use cartflow_kit::Env;
use std::time::Duration;

/// How webhooks are checked, sent and retried.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Loopback URLs (plain http included) may be subscribed: with the emulator only.
    pub allow_loopback: bool,
    /// The longest one call (the verification call too) may take.
    pub timeout: Duration,
    /// Calls in flight at once, one per endpoint at most.
    pub max_concurrency: usize,
    /// How often the worker looks for due deliveries.
    pub poll: Duration,
    pub retry: RetrySchedule,
    /// An endpoint whose every attempt failed for this long is paused.
    pub auto_pause_after: Duration,
    /// How long a rotated-out secret still signs.
    pub secret_overlap: Duration,
    /// Delivered and parked deliveries (and their attempts) are removed after this.
    pub retention: Duration,
    /// `OUTBOX_BACKGROUND_RELAY=false` (tests only): no worker, as on a throttled CPU.
    pub background: bool,
    /// Who is emailed when an endpoint is paused automatically.
    pub alert_email: String,
}

/// Exponential backoff with jitter: the n-th retry waits `base · 2^(n-1)`, at most
/// `max`, times a random factor in [0.8, 1.2); after `attempts` calls the delivery is
/// parked. The defaults (5 s, 4 h, 18) retry over about 26 hours.
#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    pub base: Duration,
    pub max: Duration,
    pub attempts: i32,
}

impl RetrySchedule {
    /// The wait after the `attempt`-th failed call (1-based), before jitter.
    pub fn delay(&self, attempt: i32) -> Duration {
        let exponent = (attempt.max(1) - 1).min(30) as u32;
        self.base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// [`RetrySchedule::delay`] with jitter.
    pub fn jittered(&self, attempt: i32) -> Duration {
        use rand::Rng;
        self.delay(attempt)
            .mul_f64(rand::rng().random_range(0.8..1.2))
    }

    /// From the first call to parking, without jitter.
    pub fn span(&self) -> Duration {
        (1..self.attempts).map(|n| self.delay(n)).sum()
    }
}

impl WebhookSettings {
    /// | variable | default |
    /// |---|---|
    /// | `WEBHOOK_ALLOW_LOOPBACK` | `true` with the emulator; refused without it |
    /// | `WEBHOOK_TIMEOUT_MS` | 10000 |
    /// | `WEBHOOK_MAX_CONCURRENCY` | 16 |
    /// | `WEBHOOK_POLL_MS` | 500 |
    /// | `WEBHOOK_RETRY_BASE_MS`, `WEBHOOK_RETRY_MAX_MS`, `WEBHOOK_MAX_ATTEMPTS` | 5000, 14400000 (4 h), 18 |
    /// | `WEBHOOK_AUTO_PAUSE_SECS` | 259200 (3 days) |
    /// | `WEBHOOK_SECRET_OVERLAP_SECS` | 86400 (1 day) |
    /// | `WEBHOOK_RETENTION_DAYS` | 30 |
    /// | `WEBHOOK_ALERT_EMAIL` | `STOCK_MANAGER_EMAIL`'s value |
    pub fn from_env(env: &Env, errors: &mut Vec<String>) -> WebhookSettings {
        let emulator = env.get("PUBSUB_EMULATOR_HOST").is_some();
        let allow_loopback = env.parse_or(
            &["WEBHOOK_ALLOW_LOOPBACK"],
            emulator,
            "true or false",
            errors,
        );
        if allow_loopback && !emulator {
            errors.push(
                "WEBHOOK_ALLOW_LOOPBACK='true': only with the emulator (PUBSUB_EMULATOR_HOST)"
                    .into(),
            );
        }
        let mut positive = |name: &str, default: u64, unit: &str| -> u64 {
            let value = env.parse_or(&[name], default, &format!("{unit} ≥ 1"), errors);
            if value == 0 {
                errors.push(format!("{name}='0': expected {unit} ≥ 1"));
                return default;
            }
            value
        };
        let timeout = Duration::from_millis(positive("WEBHOOK_TIMEOUT_MS", 10_000, "milliseconds"));
        let max_concurrency = positive("WEBHOOK_MAX_CONCURRENCY", 16, "a whole number") as usize;
        let poll = Duration::from_millis(positive("WEBHOOK_POLL_MS", 500, "milliseconds"));
        let base = Duration::from_millis(positive("WEBHOOK_RETRY_BASE_MS", 5_000, "milliseconds"));
        let max = Duration::from_millis(positive(
            "WEBHOOK_RETRY_MAX_MS",
            4 * 3_600_000,
            "milliseconds",
        ));
        let attempts = positive("WEBHOOK_MAX_ATTEMPTS", 18, "a whole number");
        let auto_pause_after =
            Duration::from_secs(positive("WEBHOOK_AUTO_PAUSE_SECS", 3 * 86_400, "seconds"));
        let secret_overlap =
            Duration::from_secs(positive("WEBHOOK_SECRET_OVERLAP_SECS", 86_400, "seconds"));
        let retention =
            Duration::from_secs(86_400 * positive("WEBHOOK_RETENTION_DAYS", 30, "days"));
        if base > max {
            errors.push(format!(
                "WEBHOOK_RETRY_BASE_MS='{}': expected at most WEBHOOK_RETRY_MAX_MS ({})",
                base.as_millis(),
                max.as_millis()
            ));
        }
        if attempts > 100 {
            errors.push(format!(
                "WEBHOOK_MAX_ATTEMPTS='{attempts}': expected a whole number from 1 to 100"
            ));
        }
        let attempts = attempts.min(100) as i32;
        let background = env.parse_or(&["OUTBOX_BACKGROUND_RELAY"], true, "true or false", errors);
        let alert_email = env
            .first(&["WEBHOOK_ALERT_EMAIL", "STOCK_MANAGER_EMAIL"])
            .map_or(
                "stock-manager@cartflow.local".to_string(),
                |(name, value)| {
                    if !value.contains('@') && name == "WEBHOOK_ALERT_EMAIL" {
                        errors.push(format!(
                            "WEBHOOK_ALERT_EMAIL='{value}': expected an email address"
                        ));
                    }
                    value.to_string()
                },
            );
        WebhookSettings {
            allow_loopback,
            timeout,
            max_concurrency,
            poll,
            retry: RetrySchedule {
                base,
                max,
                attempts,
            },
            auto_pause_after,
            secret_overlap,
            retention,
            background,
            alert_email,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<WebhookSettings, Vec<String>> {
        let mut errors = Vec::new();
        let settings =
            WebhookSettings::from_env(&Env::from_pairs(pairs.iter().copied()), &mut errors);
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn the_default_schedule_retries_for_about_a_day_then_parks() {
        let retry = settings(&[]).unwrap().retry;
        let span = retry.span().as_secs_f64() / 3600.0;
        assert!((22.0..30.0).contains(&span), "{span} hours");
        assert_eq!(retry.delay(1), Duration::from_secs(5));
        assert_eq!(retry.delay(2), Duration::from_secs(10));
        assert_eq!(retry.delay(17), Duration::from_secs(4 * 3600));
        for attempt in 1..retry.attempts {
            let jittered = retry.jittered(attempt);
            let exact = retry.delay(attempt);
            assert!(jittered >= exact.mul_f64(0.8) && jittered < exact.mul_f64(1.2));
        }
    }

    #[test]
    fn bad_values_are_named() {
        let errors = settings(&[
            ("WEBHOOK_TIMEOUT_MS", "0"),
            ("WEBHOOK_RETRY_BASE_MS", "soon"),
            ("WEBHOOK_ALLOW_LOOPBACK", "true"),
            ("WEBHOOK_MAX_ATTEMPTS", "5000"),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("WEBHOOK_MAX_ATTEMPTS='5000'"))
        );
        assert!(errors[0].contains("WEBHOOK_ALLOW_LOOPBACK"), "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("WEBHOOK_TIMEOUT_MS='0'"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("WEBHOOK_RETRY_BASE_MS='soon'"))
        );
        let local = settings(&[("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")]).unwrap();
        assert!(local.allow_loopback);
        assert!(!settings(&[]).unwrap().allow_loopback);
    }
}

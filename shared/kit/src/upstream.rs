//! Synchronous calls to another service, written once: a timeout per attempt, retries
//! with jittered exponential backoff for idempotent reads, and a circuit breaker. When
//! the breaker is open the caller gets an answer at once (503 with `Retry-After`)
//! instead of waiting on a service that is known to be down.

use crate::config::{ConfigError, Env};
use crate::http::ApiError;
use google_cloud_auth::credentials::idtoken::IDTokenCredentials;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Per attempt.
    pub timeout: Duration,
    /// Further attempts after the first, for idempotent reads.
    pub retries: u32,
    /// First retry waits about this long (±50 %), doubling after that.
    pub backoff: Duration,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before letting one trial call through.
    pub open_for: Duration,
    /// When set (on Cloud Run), each call carries a Google ID token for this audience,
    /// the called service's URL, so a service that only its callers may invoke
    /// accepts it. Obtained from the runtime's service account; cached and refreshed.
    pub audience: Option<String>,
}

impl UpstreamSettings {
    /// `<PREFIX>_TIMEOUT_MS` (2000), `<PREFIX>_RETRIES` (2), `<PREFIX>_BACKOFF_MS` (50),
    /// `<PREFIX>_BREAKER_FAILURES` (5), `<PREFIX>_BREAKER_OPEN_MS` (5000),
    /// `<PREFIX>_AUDIENCE` (unset: calls carry no identity).
    pub fn from_env(env: &Env, prefix: &str) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let ms = |name: &str, default: u64, errors: &mut Vec<String>| {
            Duration::from_millis(env.parse_or(
                &[&format!("{prefix}_{name}")],
                default,
                "milliseconds",
                errors,
            ))
        };
        let settings = UpstreamSettings {
            timeout: ms("TIMEOUT_MS", 2000, &mut errors),
            retries: env.parse_or(
                &[&format!("{prefix}_RETRIES")],
                2,
                "a whole number",
                &mut errors,
            ),
            backoff: ms("BACKOFF_MS", 50, &mut errors),
            failure_threshold: env
                .parse_or(
                    &[&format!("{prefix}_BREAKER_FAILURES")],
                    5,
                    "a whole number ≥ 1",
                    &mut errors,
                )
                .max(1),
            open_for: ms("BREAKER_OPEN_MS", 5000, &mut errors),
            audience: env
                .get(&format!("{prefix}_AUDIENCE"))
                .map(|a| a.trim().to_string()),
        };
        ConfigError::check(errors, settings)
    }
}

/// The breaker's decision logic, kept free of I/O and clocks so it can be tested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breaker {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is out; everyone else is turned away until it returns.
    HalfOpen,
}

impl Breaker {
    /// May a call go out now? `Err` carries how long until one may.
    pub fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        match *self {
            Breaker::Closed { .. } => Ok(()),
            Breaker::Open { until } if now >= until => {
                *self = Breaker::HalfOpen;
                Ok(())
            }
            Breaker::Open { until } => Err(until - now),
            Breaker::HalfOpen => Err(Duration::from_secs(1)),
        }
    }

    pub fn succeeded(&mut self) {
        *self = Breaker::Closed { failures: 0 };
    }

    pub fn failed(&mut self, now: Instant, settings: &UpstreamSettings) {
        *self = match *self {
            Breaker::Closed { failures } if failures + 1 < settings.failure_threshold => {
                Breaker::Closed {
                    failures: failures + 1,
                }
            }
            _ => Breaker::Open {
                until: now + settings.open_for,
            },
        };
    }
}

/// Another service this one calls. Cheap to clone; clones share the breaker.
#[derive(Clone)]
pub struct Upstream {
    name: &'static str,
    base_url: String,
    http: reqwest::Client,
    settings: UpstreamSettings,
    breaker: Arc<Mutex<Breaker>>,
    identity: Option<IDTokenCredentials>,
}

impl Upstream {
    pub fn new(
        name: &'static str,
        base_url: &str,
        settings: UpstreamSettings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()?;
        let identity = match &settings.audience {
            Some(audience) => Some(
                google_cloud_auth::credentials::idtoken::Builder::new(audience.clone())
                    .build()
                    .map_err(|e| {
                        anyhow::anyhow!("ID tokens for calls to the {name} service: {e}")
                    })?,
            ),
            None => None,
        };
        Ok(Upstream {
            identity,
            name,
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            settings,
            breaker: Arc::new(Mutex::new(Breaker::Closed { failures: 0 })),
        })
    }

    /// `cartflow_upstream_calls_total{upstream, result}`: ok, error, or refused by the
    /// open breaker without a call.
    fn count_call(&self, result: &'static str) {
        let labels = [("upstream", self.name), ("result", result)];
        metrics::counter!("cartflow_upstream_calls_total", &labels).increment(1);
    }

    /// `cartflow_upstream_breaker_open` (1 open, 0 closed or trying) and the trips.
    fn breaker_state(&self, breaker: &Breaker, was_open: bool) {
        let open = matches!(breaker, Breaker::Open { .. });
        let labels = [("upstream", self.name)];
        metrics::gauge!("cartflow_upstream_breaker_open", &labels).set(f64::from(u8::from(open)));
        if open && !was_open {
            metrics::counter!("cartflow_upstream_breaker_trips_total", &labels).increment(1);
        }
    }

    fn unavailable(&self, detail: String, retry_after: Duration) -> ApiError {
        ApiError::Unavailable {
            detail,
            retry_after: Some(retry_after.as_secs().max(1)),
        }
    }

    /// GETs `path`. Any answer below 500 is returned (a 404 is an answer); timeouts,
    /// refused connections and 5xx are retried, then reported as 503.
    pub async fn get(&self, path: &str) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}{path}", self.base_url);
        let mut last_error = String::new();
        for attempt in 0..=self.settings.retries {
            if attempt > 0 {
                tokio::time::sleep(jittered(self.settings.backoff * 2u32.pow(attempt - 1))).await;
            }
            if let Err(wait) = self
                .breaker
                .lock()
                .expect("breaker poisoned")
                .admit(Instant::now())
            {
                self.count_call("refused");
                return Err(self.unavailable(
                    format!(
                        "the {} service is unavailable (circuit open after repeated failures)",
                        self.name
                    ),
                    wait,
                ));
            }
            let mut request = self.http.get(&url);
            if let Some(traceparent) = cartflow_messaging::trace_context::current() {
                request =
                    request.header(cartflow_messaging::trace_context::TRACEPARENT, traceparent);
            }
            if let Some(identity) = &self.identity {
                match identity.id_token().await {
                    Ok(token) => request = request.bearer_auth(token),
                    Err(err) => {
                        last_error = format!("could not be called: no ID token ({err})");
                        continue;
                    }
                }
            }
            let outcome = request.send().await;
            let mut breaker = self.breaker.lock().expect("breaker poisoned");
            match outcome {
                Ok(response) if !response.status().is_server_error() => {
                    breaker.succeeded();
                    self.breaker_state(&breaker, false);
                    self.count_call("ok");
                    return Ok(response);
                }
                Ok(response) => last_error = format!("answered {}", response.status()),
                Err(err) if err.is_timeout() => last_error = "did not answer in time".into(),
                Err(err) => last_error = format!("could not be reached ({err})"),
            }
            let was_open = matches!(*breaker, Breaker::Open { .. });
            breaker.failed(Instant::now(), &self.settings);
            self.breaker_state(&breaker, was_open);
            self.count_call("error");
        }
        tracing::warn!(upstream = self.name, %url, error = %last_error, "upstream call failed");
        Err(self.unavailable(
            format!("the {} service {last_error}", self.name),
            self.settings.open_for.min(Duration::from_secs(5)),
        ))
    }
}

/// `base` ± 50 %, so that callers retrying together do not stay in step.
pub fn jittered(base: Duration) -> Duration {
    let random = RandomState::new().hash_one(Instant::now()) % 1000;
    base.mul_f64(0.5 + random as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> UpstreamSettings {
        UpstreamSettings::from_env(
            &Env::from_pairs([("P_BREAKER_FAILURES", "3"), ("P_BREAKER_OPEN_MS", "1000")]),
            "P",
        )
        .unwrap()
    }

    #[test]
    fn opens_after_consecutive_failures_and_half_opens_after_the_wait() {
        let s = settings();
        let t0 = Instant::now();
        let mut b = Breaker::Closed { failures: 0 };
        b.failed(t0, &s);
        b.failed(t0, &s);
        assert!(b.admit(t0).is_ok(), "two failures: still closed");
        b.failed(t0, &s);
        assert_eq!(
            b.admit(t0 + Duration::from_millis(400)),
            Err(Duration::from_millis(600))
        );
        // After the wait one trial goes through; others wait for its outcome.
        assert!(b.admit(t0 + Duration::from_secs(1)).is_ok());
        assert!(b.admit(t0 + Duration::from_secs(1)).is_err());
        b.failed(t0 + Duration::from_secs(1), &s);
        assert!(
            b.admit(t0 + Duration::from_millis(1500)).is_err(),
            "a failed trial reopens"
        );
        assert!(b.admit(t0 + Duration::from_secs(2)).is_ok());
        b.succeeded();
        assert_eq!(b, Breaker::Closed { failures: 0 });
    }

    #[test]
    fn a_success_resets_the_count() {
        let s = settings();
        let now = Instant::now();
        let mut b = Breaker::Closed { failures: 0 };
        b.failed(now, &s);
        b.failed(now, &s);
        b.succeeded();
        b.failed(now, &s);
        assert!(b.admit(now).is_ok());
    }

    #[test]
    fn jitter_stays_within_half_to_one_and_a_half() {
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(50) && d < Duration::from_millis(150),
                "{d:?}"
            );
        }
    }
}

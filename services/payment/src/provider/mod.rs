//! The payment provider client: authorize, capture, cancel (void), refund, retrieve and
//! list, over HTTP with the request shapes of Stripe's PaymentIntents API (manual
//! capture). The same client talks to cartflow's gateway sandbox (locally and in
//! tests) and to Stripe: only [`ProviderSettings::url`] and the key change.
//!
//! Why its own small client and not `async-stripe`: that crate generates the whole API
//! (hundreds of thousands of lines) and takes many minutes to build on a two-core
//! machine, for six calls and a dozen fields.
//!
//! Money safety: every write carries the caller's `Idempotency-Key` (derived from the
//! checkout or order), and every retry of it carries the same key, so a call retried
//! after a timeout is answered with the first result instead of charging twice. Each
//! attempt has a timeout; timeouts, refused connections, 5xx, 409 (the key still in
//! flight) and 429 are retried with jittered exponential backoff, a bounded number of
//! times; consecutive failures open the same circuit breaker the services use for
//! each other ([`cartflow_kit::upstream::Breaker`]), which then answers at once.
//!
//! The secret key is never logged: [`SecretKey`]'s `Debug` shows only its kind. Only
//! payment method tokens are sent, never a card number.

mod client;
mod types;

pub use client::Provider;
pub use types::{Authorization, Authorize, Card, Intent, IntentStatus, ProviderError, Refund};

use cartflow_kit::config::{ConfigError, Env};
use cartflow_kit::redact;
use cartflow_kit::upstream::UpstreamSettings;
use std::fmt;

/// The gateway sandbox's default local address (stripe-mock's port).
pub const DEFAULT_URL: &str = "http://127.0.0.1:12111";
/// The key the sandbox accepts, for local runs.
pub const DEFAULT_KEY: &str = "sk_test_cartflow_sandbox";
/// Stripe's largest page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The provider's secret key. `Debug` shows its kind (`sk_test_`, `sk_live_`), never the
/// key; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(key: impl Into<String>) -> Self {
        SecretKey(key.into())
    }

    /// A live key moves real money.
    pub fn is_live(&self) -> bool {
        self.0.starts_with("sk_live_")
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    fn kind(&self) -> &'static str {
        if self.is_live() {
            "sk_live_"
        } else if self.0.starts_with("sk_test_") {
            "sk_test_"
        } else {
            ""
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}{})", self.kind(), redact::REDACTED)
    }
}

#[derive(Clone)]
pub struct ProviderSettings {
    /// `PAYMENT_PROVIDER_URL`: the provider's API root, without `/v1`.
    pub url: String,
    /// `PAYMENT_PROVIDER_KEY`.
    pub key: SecretKey,
    /// `PROVIDER_TIMEOUT_MS` (per attempt), `PROVIDER_RETRIES`, `PROVIDER_BACKOFF_MS`,
    /// `PROVIDER_BREAKER_FAILURES`, `PROVIDER_BREAKER_OPEN_MS` (`PROVIDER_AUDIENCE` is
    /// not used: the provider authenticates the key, not a Google identity).
    pub upstream: UpstreamSettings,
    /// Objects per page when listing (Stripe's maximum, 100; tests use fewer).
    pub page_size: u32,
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("url", &redact::url(&self.url))
            .field("key", &self.key)
            .field("upstream", &self.upstream)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl ProviderSettings {
    /// `PAYMENT_PROVIDER_URL` (default [`DEFAULT_URL`]), `PAYMENT_PROVIDER_KEY` (default
    /// [`DEFAULT_KEY`]; anything not starting with `sk_` is a configuration error, named
    /// without its value), and the `PROVIDER_*` upstream settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (upstream, mut errors) = match UpstreamSettings::from_env(env, "PROVIDER") {
            Ok(upstream) => (Some(upstream), Vec::new()),
            Err(ConfigError(errors)) => (None, errors),
        };
        let url = env
            .get("PAYMENT_PROVIDER_URL")
            .unwrap_or(DEFAULT_URL)
            .trim()
            .trim_end_matches('/')
            .to_string();
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            errors.push(format!(
                "PAYMENT_PROVIDER_URL='{}': expected an http:// or https:// URL",
                redact::url(&url)
            ));
        }
        let key = SecretKey::new(
            env.get("PAYMENT_PROVIDER_KEY")
                .unwrap_or(DEFAULT_KEY)
                .trim(),
        );
        if !key.expose().starts_with("sk_") || key.expose().len() <= "sk_".len() {
            errors.push(
                "PAYMENT_PROVIDER_KEY: expected the provider's secret key (sk_test_... or \
                 sk_live_...); the value given is not one (and is not shown)"
                    .into(),
            );
        } else if key.is_live() && !https {
            errors.push(
                "PAYMENT_PROVIDER_KEY is a live key: PAYMENT_PROVIDER_URL must be https://".into(),
            );
        }
        match upstream {
            Some(upstream) if errors.is_empty() => Ok(ProviderSettings {
                url,
                key,
                upstream,
                page_size: MAX_PAGE_SIZE,
            }),
            _ => Err(ConfigError(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_reach_the_local_sandbox() {
        let settings = ProviderSettings::from_env(&Env::default()).unwrap();
        assert_eq!(settings.url, DEFAULT_URL);
        assert_eq!(settings.key, SecretKey::new(DEFAULT_KEY));
        assert_eq!(settings.upstream.timeout.as_millis(), 2000);
        assert_eq!(settings.page_size, MAX_PAGE_SIZE);
    }

    #[test]
    fn a_key_that_is_not_a_secret_key_is_named_but_not_shown() {
        let env = Env::from_pairs([
            ("PAYMENT_PROVIDER_KEY", "pk_test_publishable_123"),
            ("PROVIDER_TIMEOUT_MS", "soon"),
        ]);
        let ConfigError(errors) = ProviderSettings::from_env(&env).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("PAYMENT_PROVIDER_KEY")));
        assert!(errors.iter().any(|e| e.starts_with("PROVIDER_TIMEOUT_MS")));
        assert!(!errors.join(" ").contains("publishable_123"));
    }

    #[test]
    fn a_live_key_needs_https() {
        let env = Env::from_pairs([
            ("PAYMENT_PROVIDER_KEY", "sk_live_abc"),
            ("PAYMENT_PROVIDER_URL", "http://provider.internal"),
        ]);
        assert!(ProviderSettings::from_env(&env).is_err());
        let env = Env::from_pairs([
            ("PAYMENT_PROVIDER_KEY", "sk_live_abc"),
            ("PAYMENT_PROVIDER_URL", "https://api.stripe.com/"),
        ]);
        let settings = ProviderSettings::from_env(&env).unwrap();
        assert_eq!(settings.url, "https://api.stripe.com");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let env = Env::from_pairs([("PAYMENT_PROVIDER_KEY", "sk_test_very_secret_value")]);
        let settings = ProviderSettings::from_env(&env).unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("very_secret_value"), "{shown}");
        assert!(shown.contains("sk_test_<redacted>"), "{shown}");
    }
}

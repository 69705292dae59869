//! The HTTP side: one attempt loop (timeout, retries with the same idempotency key,
//! breaker) under six typed calls, each in a `provider.<call>` span and counted.
//!
//! This file holds the [`Provider`] and the `Call` names; `calls.rs` the typed calls,
//! `transport.rs` the attempt loop, the breaker and the per-call metrics.

mod calls;
mod transport;

use super::{ProviderSettings, SecretKey};
use cartflow_kit::upstream::{Breaker, UpstreamSettings};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{Span, field};

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Authorize,
    Capture,
    Cancel,
    Refund,
    Retrieve,
    ListIntents,
    ListRefunds,
}

/// A `provider.<call>` span at info level, with the fields every call records.
macro_rules! call_span {
    ($name:literal) => {
        tracing::info_span!(
            $name,
            idempotency_key = field::Empty,
            intent = field::Empty,
            attempts = field::Empty,
            outcome = field::Empty,
        )
    };
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Authorize => "authorize",
            Call::Capture => "capture",
            Call::Cancel => "cancel",
            Call::Refund => "refund",
            Call::Retrieve => "retrieve",
            Call::ListIntents => "list_intents",
            Call::ListRefunds => "list_refunds",
        }
    }

    fn span(self) -> Span {
        match self {
            Call::Authorize => call_span!("provider.authorize"),
            Call::Capture => call_span!("provider.capture"),
            Call::Cancel => call_span!("provider.cancel"),
            Call::Refund => call_span!("provider.refund"),
            Call::Retrieve => call_span!("provider.retrieve"),
            Call::ListIntents => call_span!("provider.list_intents"),
            Call::ListRefunds => call_span!("provider.list_refunds"),
        }
    }
}

/// The payment provider. Cheap to clone; clones share the breaker.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    key: SecretKey,
    http: reqwest::Client,
    settings: UpstreamSettings,
    page_size: u32,
    breaker: Mutex<Breaker>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("url", &cartflow_kit::redact::url(&self.inner.base))
            .field("key", &self.inner.key)
            .field("breaker", &*self.breaker())
            .finish()
    }
}

impl Provider {
    pub fn new(settings: ProviderSettings) -> anyhow::Result<Self> {
        let timeout = settings.upstream.timeout;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Provider {
            inner: Arc::new(Inner {
                base: settings.url.trim_end_matches('/').to_string(),
                key: settings.key,
                http,
                settings: settings.upstream,
                page_size: settings.page_size.clamp(1, super::MAX_PAGE_SIZE),
                breaker: Mutex::new(Breaker::Closed { failures: 0 }),
            }),
        })
    }

    /// The longest one call can take: every attempt timing out, with the longest
    /// backoffs between them (jitter included).
    pub fn longest_call(&self) -> std::time::Duration {
        let settings = &self.inner.settings;
        let waits: std::time::Duration = (1..=settings.retries)
            .map(|attempt| {
                settings
                    .backoff
                    .saturating_mul(2u32.saturating_pow(attempt - 1))
                    .min(MAX_BACKOFF)
            })
            .sum();
        settings.timeout.saturating_mul(settings.retries + 1) + waits.mul_f64(1.5)
    }
}

//! SMTP settings and the mail transport.

use crate::domain::RetryPolicy;
use cartflow_kit::{ConfigError, Env};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (local catchers).
    None,
    /// Upgrade with STARTTLS (port 587).
    StartTls,
    /// TLS from the start (port 465).
    Tls,
}

/// Its `Debug` shows the user name, never the password.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<(String, String)>,
    pub from: Mailbox,
    pub timeout: Duration,
    /// How failed sends are retried before an email is reported failed.
    pub retry: RetryPolicy,
    /// Emails sent at once (by the sender, and by each pushed batch), and the
    /// connections kept open for the next (lettre opens more when none is free).
    pub connections: usize,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credentials = self
            .credentials
            .as_ref()
            .map(|(user, _)| (user, cartflow_kit::redact::REDACTED));
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("credentials", &credentials)
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("connections", &self.connections)
            .finish()
    }
}

/// Sends under way at once by default. A send is a handful of round trips to the
/// server, so email-push's throughput is this many sends per send's time: with 32 it fell
/// behind the checkouts at C = 200 on the benchmark's host (BENCHMARKS.md, stop 52).
pub const DEFAULT_CONNECTIONS: usize = 128;

impl SmtpSettings {
    /// `SMTP_HOST` (127.0.0.1), `SMTP_PORT` (1025), `SMTP_SECURITY` (none | starttls |
    /// tls), `SMTP_USERNAME` / `SMTP_PASSWORD`, `SMTP_FROM`, `SMTP_TIMEOUT_MS` (5000),
    /// `SMTP_MAX_ATTEMPTS` (4), `SMTP_RETRY_BASE_MS` (500), `SMTP_CONNECTIONS` (128).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let security = match env.get("SMTP_SECURITY").unwrap_or("none") {
            "none" => Security::None,
            "starttls" => Security::StartTls,
            "tls" => Security::Tls,
            other => {
                errors.push(format!(
                    "SMTP_SECURITY='{other}': expected none, starttls or tls"
                ));
                Security::None
            }
        };
        let from_raw = env
            .get("SMTP_FROM")
            .unwrap_or("cartflow <no-reply@cartflow.local>");
        let from = from_raw.parse().unwrap_or_else(|_| {
            errors.push(format!(
                "SMTP_FROM='{from_raw}': expected an address like 'Shop <shop@example.com>'"
            ));
            "no-reply@cartflow.local".parse().expect("valid fallback")
        });
        let settings = SmtpSettings {
            host: env.get("SMTP_HOST").unwrap_or("127.0.0.1").to_string(),
            port: env.parse_or(&["SMTP_PORT"], 1025, "a port number", &mut errors),
            security,
            credentials: env.get("SMTP_USERNAME").map(|u| {
                (
                    u.to_string(),
                    env.get("SMTP_PASSWORD").unwrap_or_default().to_string(),
                )
            }),
            from,
            timeout: Duration::from_millis(env.parse_or(
                &["SMTP_TIMEOUT_MS"],
                5000,
                "milliseconds",
                &mut errors,
            )),
            retry: RetryPolicy {
                max_attempts: env
                    .parse_or(&["SMTP_MAX_ATTEMPTS"], 4, "a whole number ≥ 1", &mut errors)
                    .max(1),
                base: Duration::from_millis(env.parse_or(
                    &["SMTP_RETRY_BASE_MS"],
                    500,
                    "milliseconds",
                    &mut errors,
                )),
            },
            connections: env.parse_or(
                &["SMTP_CONNECTIONS"],
                DEFAULT_CONNECTIONS,
                "a whole number from 1 to 1024",
                &mut errors,
            ),
        };
        if !(1..=1024).contains(&settings.connections) {
            errors.push(format!(
                "SMTP_CONNECTIONS='{}': expected a whole number from 1 to 1024",
                settings.connections
            ));
        }
        ConfigError::check(errors, settings)
    }

    /// A transport that keeps up to [`SmtpSettings::connections`] connections to the
    /// server open for reuse, one per send under way (lettre's pool keeps 10 by default
    /// and opens a fresh connection for every send beyond them).
    pub fn transport(
        &self,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        let builder = match self.security {
            Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host)?,
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host)?,
        };
        let builder = builder
            .port(self.port)
            .timeout(Some(self.timeout))
            .pool_config(PoolConfig::new().max_size(self.connections as u32));
        let builder = match &self.credentials {
            Some((user, password)) => {
                builder.credentials(Credentials::new(user.clone(), password.clone()))
            }
            None => builder,
        };
        Ok(builder.build())
    }
}

/// Why a send failed, and whether trying again could help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

/// Sends one plain-text email.
pub async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), SendError> {
    let to: Mailbox = to.parse().map_err(|e| SendError {
        message: format!("invalid recipient '{to}': {e}"),
        permanent: true,
    })?;
    let email = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| SendError {
            message: format!("cannot build the email: {e}"),
            permanent: true,
        })?;
    transport
        .send(email)
        .await
        .map(drop)
        .map_err(|e| SendError {
            permanent: e.is_permanent(),
            message: format!("SMTP: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_policy_comes_from_the_environment() {
        let env = Env::from_pairs([("SMTP_RETRY_BASE_MS", "100"), ("SMTP_MAX_ATTEMPTS", "2")]);
        let settings = SmtpSettings::from_env(&env).unwrap();
        assert_eq!(
            settings.retry,
            RetryPolicy {
                max_attempts: 2,
                base: Duration::from_millis(100)
            }
        );
    }

    #[test]
    fn sends_at_once_default_to_128_and_come_from_the_environment() {
        let default = SmtpSettings::from_env(&Env::from_pairs::<&str, &str>([])).unwrap();
        assert_eq!(default.connections, 128);
        let set = SmtpSettings::from_env(&Env::from_pairs([("SMTP_CONNECTIONS", "8")])).unwrap();
        assert_eq!(set.connections, 8);
        let err = SmtpSettings::from_env(&Env::from_pairs([("SMTP_CONNECTIONS", "5000")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SMTP_CONNECTIONS='5000'"), "{err}");
    }

    #[test]
    fn debug_output_shows_the_user_but_not_the_password() {
        let env = Env::from_pairs([
            ("SMTP_USERNAME", "mailer"),
            ("SMTP_PASSWORD", "smtp-s3cret-pw"),
        ]);
        let settings = SmtpSettings::from_env(&env).unwrap();
        let shown = format!("{settings:?}");
        assert!(shown.contains("mailer"), "{shown}");
        assert!(!shown.contains("smtp-s3cret-pw"), "{shown}");
    }

    #[test]
    fn bad_settings_are_named() {
        let env = Env::from_pairs([
            ("SMTP_SECURITY", "ssl3"),
            ("SMTP_PORT", "smtp"),
            ("SMTP_FROM", "not an address"),
            ("SMTP_CONNECTIONS", "0"),
        ]);
        let err = SmtpSettings::from_env(&env).unwrap_err().to_string();
        for name in [
            "SMTP_SECURITY",
            "SMTP_PORT",
            "SMTP_FROM",
            "SMTP_CONNECTIONS",
        ] {
            assert!(err.contains(name), "{err}");
        }
    }
}

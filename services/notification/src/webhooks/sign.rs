//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>), by the
//! specification's own Rust library: `webhook-signature` is `v1,<base64 HMAC-SHA256 of
//! "{webhook-id}.{webhook-timestamp}.{body}">`, once per secret in use, separated by a
//! space, so a receiver that has either secret verifies during a rotation.

use base64::Engine;
use chrono::{DateTime, Utc};
use std::fmt;

const PREFIX: &str = "whsec_";

/// A signing secret, `whsec_` + base64 of 32 random bytes. Its `Debug` and `Display`
/// never show it; [`Secret::expose`] does, for the database and the one answer that
/// shows it to staff.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn generate() -> Secret {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Secret(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        ))
    }

    /// A stored secret.
    pub fn from_stored(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `v1,<base64>` for this message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> anyhow::Result<String> {
        let webhook = standardwebhooks::Webhook::new(&self.0)
            .map_err(|e| anyhow::anyhow!("a stored webhook secret is malformed: {e}"))?;
        webhook
            .sign(id, timestamp, body.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing a webhook: {e}"))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(cartflow_kit::redact::REDACTED)
    }
}

/// An endpoint's secrets at the time of a call: the current one, and the one before
/// the last rotation while its overlap lasts.
#[derive(Debug, Clone)]
pub struct Keys {
    pub current: Secret,
    pub previous: Option<(Secret, DateTime<Utc>)>,
}

/// The three headers of one call.
#[derive(Debug, Clone)]
pub struct Signed {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
}

impl Keys {
    /// Signs `body` as sent at `now`: with the current secret, and with the previous
    /// one while `now` is before its expiry.
    pub fn sign(&self, id: &str, now: DateTime<Utc>, body: &str) -> anyhow::Result<Signed> {
        let timestamp = now.timestamp();
        let mut signature = self.current.sign(id, timestamp, body)?;
        if let Some((previous, until)) = &self.previous
            && now < *until
        {
            signature.push(' ');
            signature.push_str(&previous.sign(id, timestamp, body)?);
        }
        Ok(Signed {
            id: id.to_string(),
            timestamp,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example.
    #[test]
    fn signs_the_specifications_test_vector() {
        let secret = Secret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        assert_eq!(
            secret
                .sign(
                    "msg_p5jXN8AQM9LWM0D4loKWxJek",
                    1614265330,
                    r#"{"test": 2432232314}"#
                )
                .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_fresh_and_never_shown_by_debug() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_ne!(a, b);
        assert!(a.expose().starts_with("whsec_"));
        let key = base64::engine::general_purpose::STANDARD
            .decode(&a.expose()[PREFIX.len()..])
            .unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(format!("{a:?}"), cartflow_kit::redact::REDACTED);
    }

    #[test]
    fn the_previous_secret_signs_only_until_its_expiry() {
        let now = Utc::now();
        let keys = Keys {
            current: Secret::generate(),
            previous: Some((Secret::generate(), now + chrono::Duration::seconds(10))),
        };
        let during = keys.sign("e", now, "{}").unwrap();
        assert_eq!(during.signature.split(' ').count(), 2);
        let after = keys
            .sign("e", now + chrono::Duration::seconds(11), "{}")
            .unwrap();
        assert_eq!(after.signature.split(' ').count(), 1);
        assert_eq!(
            after.signature,
            keys.current.sign("e", after.timestamp, "{}").unwrap()
        );
    }
}

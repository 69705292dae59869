//! An identity provider's signing keys (its JWKS), fetched over HTTP and cached.
//!
//! One cache per issuer, shared by customer sign-in and Pub/Sub push. Keys are fetched
//! at start-up, again every `refresh` period, and again when a token names a key id the
//! cache does not know (a key rotation), at most once per `min_refresh`, so a flood of
//! made-up key ids cannot turn into a flood of fetches. While the keys have never been
//! fetched the service is not ready and every token is refused; once fetched they stay
//! in use when the provider is briefly down.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long one fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an empty cache (provider down at start-up) tries again.
const RETRY_WHILE_EMPTY: Duration = Duration::from_secs(2);

/// A usable verification key, with the algorithm it is for.
#[derive(Clone)]
pub struct SigningKey {
    pub key: Arc<DecodingKey>,
    /// What the JWK says it signs with; `None` when it does not say.
    pub algorithm: Option<Algorithm>,
}

/// Why no key could be found for a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the token's key id is not one of the issuer's keys")]
    UnknownKey,
    #[error("the issuer's signing keys could not be fetched: {0}")]
    Unavailable(String),
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, SigningKey>,
    fetched: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

/// The cache of one JWKS URL.
pub struct Jwks {
    url: String,
    http: reqwest::Client,
    min_refresh: Duration,
    cached: RwLock<Cached>,
    /// One fetch at a time: concurrent misses wait for it rather than fetching again.
    fetching: tokio::sync::Mutex<()>,
}

impl Jwks {
    pub fn new(url: impl Into<String>, min_refresh: Duration) -> Arc<Jwks> {
        Arc::new(Jwks {
            url: url.into(),
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .expect("an HTTP client"),
            min_refresh,
            cached: RwLock::new(Cached::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key `kid`, fetching the set again if it is unknown and the last fetch is
    /// older than `min_refresh`.
    pub async fn key(&self, kid: &str) -> Result<SigningKey, KeyError> {
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(key) = self.cached_key(kid) {
            return Ok(key); // fetched while this request waited
        }
        let recently = {
            let cached = self.cached.read().expect("jwks lock");
            cached
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.min_refresh)
        };
        if !recently {
            let _ = self.fetch().await;
        }
        let cached = self.cached.read().expect("jwks lock");
        match cached.keys.get(kid) {
            Some(key) => Ok(key.clone()),
            None if cached.fetched.is_none() => Err(KeyError::Unavailable(
                cached
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "not yet fetched".into()),
            )),
            None => Err(KeyError::UnknownKey),
        }
    }

    fn cached_key(&self, kid: &str) -> Option<SigningKey> {
        self.cached
            .read()
            .expect("jwks lock")
            .keys
            .get(kid)
            .cloned()
    }

    /// For readiness: the number of keys held, or why there are none.
    pub fn status(&self) -> Result<usize, String> {
        let cached = self.cached.read().expect("jwks lock");
        match cached.fetched {
            Some(_) => Ok(cached.keys.len()),
            None => Err(format!(
                "no signing keys from {}: {}",
                self.url,
                cached.last_error.as_deref().unwrap_or("not yet fetched")
            )),
        }
    }

    /// Fetches the set and replaces the cache; on failure the old keys stay.
    pub async fn fetch(&self) -> Result<usize, String> {
        let result = self.download().await;
        let mut cached = self.cached.write().expect("jwks lock");
        cached.last_attempt = Some(Instant::now());
        match result {
            Ok(keys) => {
                let count = keys.len();
                cached.keys = keys;
                cached.fetched = Some(Instant::now());
                cached.last_error = None;
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "fetching the signing keys failed");
                cached.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    async fn download(&self) -> Result<HashMap<String, SigningKey>, String> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("{e}"))?;
        if !response.status().is_success() {
            return Err(format!("{} answered {}", self.url, response.status()));
        }
        let set: JwkSet = response
            .json()
            .await
            .map_err(|e| format!("not a JWKS: {e}"))?;
        Ok(usable_keys(&set))
    }

    /// Keeps the cache fresh until `stop`: every `refresh`, and every few seconds
    /// while it is still empty.
    pub async fn keep_fresh(self: Arc<Self>, refresh: Duration, stop: CancellationToken) {
        loop {
            let wait = match self.fetch().await {
                Ok(count) => {
                    tracing::debug!(url = %self.url, count, "signing keys fetched");
                    refresh
                }
                Err(_) if self.status().is_err() => RETRY_WHILE_EMPTY,
                Err(_) => refresh.min(self.min_refresh.max(RETRY_WHILE_EMPTY)),
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// The set's asymmetric signature keys that have a key id. Symmetric (`oct`) keys are
/// dropped: a public key set has no business holding one, and accepting it would let a
/// token be signed with a published secret.
fn usable_keys(set: &JwkSet) -> HashMap<String, SigningKey> {
    set.keys
        .iter()
        .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            let algorithm = match jwk.common.key_algorithm {
                None => None,
                Some(alg) => Some(signature_algorithm(alg)?),
            };
            Some((
                kid,
                SigningKey {
                    key: Arc::new(key),
                    algorithm,
                },
            ))
        })
        .collect()
}

fn signature_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None, // HMAC or an encryption algorithm: not a signing key here
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_signing_keys_with_an_id_are_kept() {
        let set: JwkSet = serde_json::from_value(serde_json::json!({ "keys": [
            { "kty": "RSA", "kid": "rsa", "alg": "RS256", "use": "sig",
              "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw",
              "e": "AQAB" },
            { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
            { "kty": "RSA", "alg": "RS256",
              "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw",
              "e": "AQAB" }
        ]}))
        .unwrap();
        let keys = usable_keys(&set);
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["rsa"]);
        assert_eq!(keys["rsa"].algorithm, Some(Algorithm::RS256));
    }
}

//! Verifying an OpenID Connect ID token (a JWT): signature against the issuer's JWKS,
//! then `iss`, `aud`, `exp` and `nbf` with a small clock skew. Customer sign-in and
//! Pub/Sub push both verify through this one function.

use super::jwks::{Jwks, KeyError};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The signature algorithms a token may use: asymmetric only, so that no published
/// key can double as an HMAC secret, and never `none` (which the JWT crate cannot
/// even parse).
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a token was refused. The text names what was wrong, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The keys to check it with are not at hand: refused, but not the caller's fault.
    #[error("{0}")]
    KeysUnavailable(String),
}

/// Checks tokens of one issuer for one set of audiences.
#[derive(Clone)]
pub struct TokenVerifier {
    jwks: Arc<Jwks>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    clock_skew: Duration,
}

impl TokenVerifier {
    /// `issuers` are the accepted `iss` values (Google signs with two spellings).
    pub fn new(
        jwks: Arc<Jwks>,
        issuers: Vec<String>,
        audiences: Vec<String>,
        clock_skew: Duration,
    ) -> Self {
        TokenVerifier {
            jwks,
            issuers,
            audiences,
            clock_skew,
        }
    }

    pub fn jwks(&self) -> &Arc<Jwks> {
        &self.jwks
    }

    /// The token's claims, if every check passes.
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        let invalid = |what: String| TokenError::Invalid(what);
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(format!("not a signed JWT ({e})")))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("the header names no key id (kid)".into()))?;
        let key = self.jwks.key(&kid).await.map_err(|e| match e {
            KeyError::UnknownKey => invalid(e.to_string()),
            KeyError::Unavailable(_) => TokenError::KeysUnavailable(e.to_string()),
        })?;
        if key.algorithm.is_some_and(|alg| alg != header.alg) {
            return Err(invalid(format!(
                "the key is for {:?}, the token says {:?}",
                key.algorithm.unwrap_or(header.alg),
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&self.issuers);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.clock_skew.as_secs();
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| invalid(describe(&e)))?;
        Ok(data.claims)
    }
}

/// A short reason for the log and the problem detail.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::ExpiredSignature => "expired".into(),
        ErrorKind::ImmatureSignature => "not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => "wrong audience".into(),
        ErrorKind::InvalidIssuer => "wrong issuer".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("no {claim} claim"),
        other => format!("{other:?}"),
    }
}

//! How a request's credentials become a caller: headers in development, an OIDC ID
//! token (verified, and the customer not deleted) in production.

use super::jwks::Jwks;
use super::token::{TokenError, TokenVerifier};
use super::{
    AuthSettings, CUSTOMER_HEADER, Caller, EmailClaim, OidcSettings, ROLE_HEADER, SignIn, deleted,
};
use crate::http::ApiError;
use axum::http::{HeaderMap, header};
use chrono::DateTime;
use serde_json::{Map, Value};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Turns a request's credentials into a [`Caller`]. One per service, in the
/// request's extensions (the runtime adds it), so every route extracts the same way.
#[derive(Clone)]
pub enum Authenticator {
    Header,
    Oidc(Arc<OidcAuthenticator>),
}

pub struct OidcAuthenticator {
    verifier: TokenVerifier,
    settings: OidcSettings,
    /// Where the service keeps the customers it knows are deleted.
    pool: PgPool,
}

impl Authenticator {
    /// `pool` is the service's database, which lists deleted customers.
    pub fn new(settings: &AuthSettings, pool: PgPool) -> Authenticator {
        match settings {
            AuthSettings::Header => Authenticator::Header,
            AuthSettings::Oidc(oidc) => {
                let jwks = Jwks::new(&oidc.jwks_url, oidc.jwks_min_refresh);
                Authenticator::Oidc(Arc::new(OidcAuthenticator {
                    verifier: TokenVerifier::new(
                        jwks,
                        vec![oidc.issuer.clone()],
                        oidc.audiences.clone(),
                        oidc.clock_skew,
                    ),
                    settings: oidc.clone(),
                    pool,
                }))
            }
        }
    }

    /// The key cache to keep fresh and report in readiness (OIDC only).
    pub fn jwks(&self) -> Option<(Arc<Jwks>, Duration)> {
        match self {
            Authenticator::Header => None,
            Authenticator::Oidc(oidc) => {
                Some((oidc.verifier.jwks().clone(), oidc.settings.jwks_refresh))
            }
        }
    }

    /// The sign-in of a request, `None` for an anonymous one, or why the credentials
    /// are refused; a deleted customer's valid token is refused too.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<SignIn>, ApiError> {
        let Some(sign_in) = self.verify(headers).await? else {
            return Ok(None);
        };
        self.still_signed_in(&sign_in).await?;
        Ok(Some(sign_in))
    }

    /// For a long-lived response (a stream): whether `sign_in` still holds. It does
    /// not once the token has expired or (OIDC) the customer has been deleted since.
    pub async fn still_signed_in(&self, sign_in: &SignIn) -> Result<(), ApiError> {
        if sign_in.expired() {
            return Err(ApiError::Unauthorized("invalid token: expired".into()));
        }
        match self {
            Authenticator::Header => Ok(()),
            Authenticator::Oidc(oidc) => oidc.not_deleted(&sign_in.caller).await,
        }
    }

    /// The credential's signature and claims only (no database read).
    pub(crate) async fn verify(&self, headers: &HeaderMap) -> Result<Option<SignIn>, ApiError> {
        match self {
            Authenticator::Header => Ok(from_headers(headers)?.map(|caller| SignIn {
                caller,
                email: EmailClaim::Unchecked,
                expires_at: None,
            })),
            Authenticator::Oidc(oidc) => {
                let Some(token) = bearer(headers)? else {
                    return Ok(None);
                };
                match oidc.verifier.verify(token).await {
                    Ok(claims) => oidc.sign_in(&claims).map(Some),
                    Err(TokenError::Invalid(reason)) => {
                        tracing::info!(%reason, "request refused: invalid token");
                        Err(ApiError::Unauthorized(format!("invalid token: {reason}")))
                    }
                    Err(TokenError::KeysUnavailable(reason)) => {
                        tracing::warn!(%reason, "request refused: tokens cannot be checked");
                        Err(ApiError::Unavailable {
                            detail: format!("sign-in cannot be checked right now: {reason}"),
                            retry_after: Some(5),
                        })
                    }
                }
            }
        }
    }

    /// What a client must send, for the 401 of an anonymous request.
    pub(super) fn how_to_sign_in(&self) -> &'static str {
        match self {
            Authenticator::Header => {
                "sign in: send X-Customer-Id: <customer uuid> (or X-Role: staff)"
            }
            Authenticator::Oidc(_) => "sign in: send Authorization: Bearer <ID token>",
        }
    }
}

impl OidcAuthenticator {
    /// 401 if the caller's account has been deleted.
    async fn not_deleted(&self, caller: &Caller) -> Result<(), ApiError> {
        let id = caller.customer.expect("a signed-in caller has an id");
        if deleted::is_deleted(&self.pool, id).await? {
            tracing::info!(customer_id = %id, "request refused: the customer was deleted");
            return Err(ApiError::Unauthorized(
                "this customer account has been deleted".into(),
            ));
        }
        Ok(())
    }

    /// The sign-in valid claims stand for.
    fn sign_in(&self, claims: &Map<String, Value>) -> Result<SignIn, ApiError> {
        let caller = self.caller(claims)?;
        let verified = claims.get("email_verified").and_then(Value::as_bool) == Some(true);
        let email = match claims.get("email").and_then(Value::as_str) {
            Some(email) if verified && !email.trim().is_empty() => {
                EmailClaim::Verified(email.trim().to_string())
            }
            _ => EmailClaim::Unverified,
        };
        // `exp` is required by the verifier; the skew it allowed applies here too.
        let skew = chrono::TimeDelta::from_std(self.settings.clock_skew).unwrap_or_default();
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .map(|exp| exp + skew);
        Ok(SignIn {
            caller,
            email,
            expires_at,
        })
    }

    fn caller(&self, claims: &Map<String, Value>) -> Result<Caller, ApiError> {
        let s = &self.settings;
        let subject = claims
            .get(&s.customer_claim)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                tracing::info!(claim = %s.customer_claim, "request refused: no customer claim");
                ApiError::Unauthorized(format!("invalid token: no {} claim", s.customer_claim))
            })?;
        let id = customer_id_for(&s.issuer, subject);
        let staff = match claims.get(&s.staff_claim) {
            Some(Value::String(v)) => *v == s.staff_value,
            Some(Value::Array(values)) => values.iter().any(|v| v == s.staff_value.as_str()),
            _ => false,
        };
        Ok(Caller {
            customer: Some(id),
            staff,
        })
    }
}

/// The customer id a token's subject stands for: the subject itself when it is a
/// UUID, else a UUID derived from issuer and subject (the same every time).
pub fn customer_id_for(issuer: &str, subject: &str) -> Uuid {
    Uuid::parse_str(subject).unwrap_or_else(|_| {
        Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("{issuer}#{subject}").as_bytes(),
        )
    })
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Some(t.trim()))
        .ok_or_else(|| {
            tracing::info!("request refused: Authorization is not a Bearer token");
            ApiError::Unauthorized("expected Authorization: Bearer <ID token>".into())
        })
}

pub(super) fn from_headers(headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let text = |name: &str| -> Result<Option<&str>, ApiError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map(str::trim)
                    .map_err(|_| ApiError::BadRequest(format!("{name} must be plain text")))
            })
            .transpose()
    };
    let customer = text(CUSTOMER_HEADER)?
        .map(|v| {
            Uuid::parse_str(v)
                .map_err(|_| ApiError::BadRequest(format!("X-Customer-Id '{v}' is not a UUID")))
        })
        .transpose()?;
    let staff = match text(ROLE_HEADER)? {
        None | Some("customer") => false,
        Some("staff") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "X-Role '{other}': expected staff or customer"
            )));
        }
    };
    Ok(match (customer, staff) {
        (customer, true) => Some(Caller::staff(customer)),
        (Some(id), false) => Some(Caller::customer(id)),
        (None, false) => None,
    })
}

//! Who is calling: a customer, staff, or nobody.
//!
//! - `AUTH_MODE=oidc` (production): `Authorization: Bearer <ID token>` from an OpenID
//!   Connect provider, verified against its JWKS ([`token::TokenVerifier`]); a
//!   configured claim names the customer, another marks staff.
//! - `AUTH_MODE=header` (development, emulator only): `X-Customer-Id: <uuid>` names
//!   the customer and `X-Role: staff` marks staff, as plain curl can send them.
//!
//! Routes take a [`Caller`] and ask it what the caller may do; the rules of who may
//! call which route are in docs/api.md. A missing or bad credential is a
//! 401, a known caller without the right a 403, someone else's resource a 404.

pub mod deleted;
pub mod jwks;
pub mod rate_limit;
pub mod token;

use crate::http::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use jwks::Jwks;
use serde_json::{Map, Value};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use token::{TokenError, TokenVerifier};
use uuid::Uuid;

/// The development header naming the customer.
pub const CUSTOMER_HEADER: &str = "x-customer-id";
/// The development header naming the role (`staff` or `customer`).
pub const ROLE_HEADER: &str = "x-role";

/// How callers prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    /// Trust `X-Customer-Id` and `X-Role` (only with the emulator).
    Header,
    Oidc(OidcSettings),
}

/// The identity provider and how its tokens map to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The tokens' `iss`.
    pub issuer: String,
    /// Accepted `aud` values (the OAuth client id or project).
    pub audiences: Vec<String>,
    pub jwks_url: String,
    /// The claim holding the customer id: a UUID is used as it is; any other value
    /// (e.g. a Firebase uid) maps to a stable UUID (v5 of issuer and value).
    pub customer_claim: String,
    /// A caller is staff when this claim equals, or (a list) contains, `staff_value`.
    pub staff_claim: String,
    pub staff_value: String,
    pub clock_skew: Duration,
    /// How often the keys are fetched again, and the least time between two fetches
    /// caused by unknown key ids.
    pub jwks_refresh: Duration,
    pub jwks_min_refresh: Duration,
}

/// The verified caller of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Caller {
    customer: Option<Uuid>,
    staff: bool,
}

impl Caller {
    pub fn customer(id: Uuid) -> Caller {
        Caller {
            customer: Some(id),
            staff: false,
        }
    }

    pub fn staff(id: Option<Uuid>) -> Caller {
        Caller {
            customer: id,
            staff: true,
        }
    }

    pub fn is_staff(&self) -> bool {
        self.staff
    }

    /// The customer this caller is; 403 for a caller who is none (header-mode staff
    /// without `X-Customer-Id`).
    pub fn customer_id(&self) -> Result<Uuid, ApiError> {
        self.customer.ok_or_else(|| {
            ApiError::Forbidden("this route acts for a customer, and the caller is none".into())
        })
    }

    /// 403 unless staff.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        if self.staff {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only staff may do this".into()))
        }
    }

    /// Whether the caller may see and change what belongs to `owner`. Routes answer
    /// 404 when not, exactly as for a resource that does not exist.
    pub fn may_access(&self, owner: Uuid) -> bool {
        self.staff || self.customer == Some(owner)
    }

    /// The owner filter of a listing. Staff see what they ask for (`None`: everyone's);
    /// a customer sees their own only, and asking for someone else's sees nothing.
    pub fn list_filter(&self, requested: Option<Uuid>) -> Result<Option<Uuid>, NothingVisible> {
        if self.staff {
            return Ok(requested);
        }
        match (self.customer, requested) {
            (Some(own), None) => Ok(Some(own)),
            (Some(own), Some(asked)) if asked == own => Ok(Some(own)),
            _ => Err(NothingVisible),
        }
    }
}

/// What a verified credential says: who calls, the email address the issuer verified,
/// and until when the credential holds. Routes that need more than [`Caller`] (sign-up
/// binds the email; a long-lived stream ends when the token does) take this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub caller: Caller,
    pub email: EmailClaim,
    /// When the token stops being accepted (its `exp` plus the allowed clock skew);
    /// `None` in header mode, where nothing expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The email address a credential vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailClaim {
    /// Header mode (emulator only): nothing is verified, so nothing is bound.
    Unchecked,
    /// The token's `email`, with `email_verified: true`.
    Verified(String),
    /// A token without an email, or with `email_verified` not true.
    Unverified,
}

impl SignIn {
    /// A customer acting for themselves may only use the address their sign-in
    /// verified (compared without case); staff may use any. 403 otherwise, without
    /// echoing either address.
    pub fn may_use_email(&self, email: &str) -> Result<(), ApiError> {
        if self.caller.is_staff() {
            return Ok(());
        }
        match &self.email {
            EmailClaim::Unchecked => Ok(()),
            EmailClaim::Verified(own) if own.trim().eq_ignore_ascii_case(email.trim()) => Ok(()),
            EmailClaim::Verified(_) => Err(ApiError::Forbidden(
                "the email must be the address your sign-in verified".into(),
            )),
            EmailClaim::Unverified => Err(ApiError::Forbidden(
                "sign in with a verified email address (email_verified) first".into(),
            )),
        }
    }

    /// Whether the credential has expired by now.
    pub fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| Utc::now() >= at)
    }
}

/// A request's credential as verified before the routes run (signature and claims;
/// not yet whether the account was deleted), so that the per-caller rate limit keys
/// on who the caller proved to be, and the routes do not verify it twice.
#[derive(Debug, Clone)]
pub(crate) struct Verified(pub(crate) SignIn);

/// A listing the caller may see nothing of: answered with an empty list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NothingVisible;

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
    fn how_to_sign_in(&self) -> &'static str {
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

fn from_headers(headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
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

/// A route that needs the sign-in's details takes `SignIn`: anonymous requests get 401.
/// A credential already verified before the routes ([`Verified`]) is not verified
/// again; whether the account was deleted is always checked.
impl<S: Send + Sync> FromRequestParts<S> for SignIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let authenticator = Authenticator::of(parts)?;
        let sign_in = match parts.extensions.get::<Verified>() {
            Some(Verified(sign_in)) => {
                authenticator.still_signed_in(sign_in).await?;
                Some(sign_in.clone())
            }
            None => authenticator.authenticate(&parts.headers).await?,
        };
        sign_in.ok_or_else(|| ApiError::Unauthorized(authenticator.how_to_sign_in().into()))
    }
}

impl Authenticator {
    /// The service's authenticator, from the request's extensions.
    pub fn of(parts: &Parts) -> Result<Authenticator, ApiError> {
        parts
            .extensions
            .get::<Authenticator>()
            .cloned()
            .ok_or_else(|| {
                // Fail closed: a router assembled without the kit's layer lets nobody in.
                ApiError::Internal(anyhow::anyhow!(
                    "no Authenticator in the request extensions"
                ))
            })
    }
}

/// A route that re-checks a sign-in later (a long-lived stream) takes the service's
/// `Authenticator` too.
impl<S: Send + Sync> FromRequestParts<S> for Authenticator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Authenticator::of(parts)
    }
}

/// A route that needs a caller takes `Caller`: anonymous requests get 401.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        SignIn::from_request_parts(parts, state)
            .await
            .map(|sign_in| sign_in.caller)
    }
}

/// A route that acts for the calling customer takes `CustomerId`: 401 for anonymous
/// requests, 403 for a caller who is no customer.
pub struct CustomerId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for CustomerId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.customer_id().map(CustomerId)
    }
}

/// A staff-only route takes `_: Staff`: 401 for anonymous requests, 403 for customers.
pub struct Staff;

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_staff().map(|()| Staff)
    }
}

#[cfg(test)]
mod tests;

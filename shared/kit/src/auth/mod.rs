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
//!
//! Here: the settings. [`caller`]: who a request's caller is and what they may do;
//! [`authenticator`]: how credentials become a caller; `extract`: the extractors that
//! routes take.

mod authenticator;
mod caller;
pub mod deleted;
mod extract;
pub mod jwks;
pub mod rate_limit;
pub mod token;

pub use authenticator::{Authenticator, OidcAuthenticator, customer_id_for};
pub(crate) use caller::Verified;
pub use caller::{Caller, EmailClaim, NothingVisible, SignIn};
pub use extract::{CustomerId, Staff};

use std::time::Duration;

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

#[cfg(test)]
mod tests;

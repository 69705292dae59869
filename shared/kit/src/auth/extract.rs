//! The extractors routes take to know their caller: [`SignIn`], [`Caller`],
//! [`CustomerId`], [`Staff`], and the service's [`Authenticator`].

use super::{Authenticator, Caller, SignIn, Verified};
use crate::http::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use uuid::Uuid;

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

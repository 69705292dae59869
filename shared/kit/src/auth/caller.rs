//! Who a request's caller is ([`Caller`], [`SignIn`]) and what they may do.

use crate::http::ApiError;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The verified caller of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Caller {
    // Set by the authenticator from verified claims.
    pub(super) customer: Option<Uuid>,
    pub(super) staff: bool,
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

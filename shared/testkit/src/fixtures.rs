//! Test-only key material: the keys the test issuer signs with and the JWKS that
//! publish them. Never used outside tests.

/// The JWKS of the sign-in issuer (its RSA and EC keys).
pub const AUTH_JWKS: &str = include_str!("../fixtures/auth-jwks.json");
/// The JWKS Google would publish for push requests' tokens (the RSA key below).
pub const PUSH_JWKS: &str = include_str!("../fixtures/push-jwks.json");
/// RSA: signs push tokens, and the issuer's RS256 ID tokens.
pub const PUSH_SIGNING_KEY: &[u8] = include_bytes!("../fixtures/push-signing-key.pem");
/// EC: signs the issuer's ES256 ID tokens.
pub const AUTH_EC_KEY: &[u8] = include_bytes!("../fixtures/auth-ec-key.pem");
/// RSA, published nowhere: a forger's key.
pub const AUTH_FORGER_KEY: &[u8] = include_bytes!("../fixtures/auth-forger-key.pem");

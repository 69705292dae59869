//! A test OpenID Connect issuer: real RSA and EC keys (test-only fixtures), their JWKS
//! served over HTTP on loopback, and ID tokens signed with them. Switching it off
//! makes the JWKS answer 503, as a provider's outage would.

use axum::http::StatusCode;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

pub const ISSUER: &str = "https://issuer.cartflow.test";
pub const AUDIENCE: &str = "cartflow-test";
/// The RSA key is the push fixture's; the EC key is sign-in's own.
pub const RSA_KID: &str = "issuer-rsa-1";
pub const EC_KID: &str = "issuer-ec-1";

pub struct TestIssuer {
    pub jwks_url: String,
    up: Arc<AtomicBool>,
}

impl TestIssuer {
    /// Serves the JWKS; `up` says whether it answers at first.
    pub async fn start(up: bool) -> Arc<TestIssuer> {
        let jwks: Value = serde_json::from_str(cartflow_testkit::fixtures::AUTH_JWKS).unwrap();
        let up = Arc::new(AtomicBool::new(up));
        let serving = up.clone();
        let router = axum::Router::new().route(
            "/jwks",
            get(move || {
                let jwks = jwks.clone();
                let serving = serving.load(Ordering::SeqCst);
                async move {
                    if serving {
                        Ok(axum::Json(jwks))
                    } else {
                        Err(StatusCode::SERVICE_UNAVAILABLE)
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jwks_url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Arc::new(TestIssuer { jwks_url, up })
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// The services' settings for this issuer.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AUTH_MODE", "oidc".into()),
            ("AUTH_ISSUER", ISSUER.into()),
            ("AUTH_AUDIENCE", AUDIENCE.into()),
            ("AUTH_JWKS_URL", self.jwks_url.clone()),
        ]
    }

    /// Valid claims for `subject`, an hour long.
    pub fn claims(subject: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 3600 })
    }

    /// `claims` signed with the issuer's RSA key (RS256).
    pub fn sign(claims: &Value) -> String {
        sign_with(claims, Algorithm::RS256, RSA_KID, &rsa_key())
    }

    /// A customer's token (EC, to use both keys).
    pub fn customer_token(id: Uuid) -> String {
        Self::sign_customer(&Self::claims(&id.to_string()))
    }

    /// A customer's token whose issuer verified `email` (`email_verified: true`), as
    /// sign-up needs in OIDC mode.
    pub fn customer_token_with_email(id: Uuid, email: &str) -> String {
        let mut claims = Self::claims(&id.to_string());
        claims["email"] = json!(email);
        claims["email_verified"] = json!(true);
        Self::sign_customer(&claims)
    }

    /// `claims` signed as customers' tokens are (ES256 with the EC key).
    pub fn sign_customer(claims: &Value) -> String {
        sign_with(claims, Algorithm::ES256, EC_KID, &ec_key())
    }

    pub fn staff_token() -> String {
        let mut claims = Self::claims("staff-member-1");
        claims["role"] = json!(["staff"]);
        Self::sign(&claims)
    }
}

pub fn sign_with(claims: &Value, alg: Algorithm, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(cartflow_testkit::fixtures::PUSH_SIGNING_KEY).unwrap()
}

pub fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(cartflow_testkit::fixtures::AUTH_EC_KEY).unwrap()
}

/// A key the issuer never published: what a forger signs with.
pub fn forger_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(cartflow_testkit::fixtures::AUTH_FORGER_KEY).unwrap()
}

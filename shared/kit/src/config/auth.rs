//! `AUTH_*` (who the caller is) and `RATE_LIMIT_*`, read from the environment; each bad
//! value is named in `errors`.

use super::Env;
use crate::auth::rate_limit::{Limit, RateLimits};
use crate::auth::{AuthSettings, OidcSettings};
use std::time::Duration;

/// OIDC in Google Cloud, headers with the emulator; headers without it are refused.
pub(super) fn auth_settings(env: &Env, emulator: bool, errors: &mut Vec<String>) -> AuthSettings {
    let default = if emulator { "header" } else { "oidc" };
    match env.get("AUTH_MODE").map(str::trim).unwrap_or(default) {
        "header" if emulator => AuthSettings::Header,
        "header" => {
            errors.push(
                "AUTH_MODE='header': only allowed with PUBSUB_EMULATOR_HOST (X-Customer-Id is \
                 whatever the caller says it is); use oidc"
                    .into(),
            );
            AuthSettings::Header
        }
        "oidc" => AuthSettings::Oidc(oidc_settings(env, errors)),
        other => {
            errors.push(format!("AUTH_MODE='{other}': expected oidc or header"));
            AuthSettings::Header
        }
    }
}

fn oidc_settings(env: &Env, errors: &mut Vec<String>) -> OidcSettings {
    let mut required = |name: &str, what: &str| match env.get(name).map(str::trim) {
        Some(value) if !value.is_empty() => value.to_string(),
        _ => {
            errors.push(format!("{name}: required with AUTH_MODE=oidc ({what})"));
            String::new()
        }
    };
    let issuer = required(
        "AUTH_ISSUER",
        "the tokens' iss, e.g. https://securetoken.google.com/<project>",
    );
    let audiences = required(
        "AUTH_AUDIENCE",
        "the tokens' aud; several separated by commas",
    );
    let jwks_url = required(
        "AUTH_JWKS_URL",
        "where the issuer publishes its signing keys",
    );
    let secs = |name: &str, default: u64, errors: &mut Vec<String>| {
        Duration::from_secs(env.parse_or(&[name], default, "seconds", errors))
    };
    let settings = OidcSettings {
        issuer,
        audiences: audiences
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
        jwks_url,
        customer_claim: env
            .get("AUTH_CUSTOMER_CLAIM")
            .unwrap_or("sub")
            .trim()
            .to_string(),
        staff_claim: env
            .get("AUTH_STAFF_CLAIM")
            .unwrap_or("role")
            .trim()
            .to_string(),
        staff_value: env
            .get("AUTH_STAFF_VALUE")
            .unwrap_or("staff")
            .trim()
            .to_string(),
        clock_skew: secs("AUTH_CLOCK_SKEW_SECS", 60, errors),
        jwks_refresh: secs("AUTH_JWKS_REFRESH_SECS", 3600, errors),
        jwks_min_refresh: secs("AUTH_JWKS_MIN_REFRESH_SECS", 30, errors),
    };
    if !settings.jwks_url.is_empty()
        && !settings.jwks_url.starts_with("https://")
        && !settings.jwks_url.starts_with("http://127.0.0.1")
        && !settings.jwks_url.starts_with("http://localhost")
    {
        errors.push(format!(
            "AUTH_JWKS_URL='{}': expected an https:// URL (plain http only on loopback)",
            settings.jwks_url
        ));
    }
    if settings.jwks_refresh.is_zero() {
        errors.push("AUTH_JWKS_REFRESH_SECS='0': expected seconds ≥ 1".into());
    }
    settings
}

/// Limits are on by default in Google Cloud and off with the emulator, where the only
/// client is the developer (and the load generator, from one address).
pub(super) fn rate_limits(env: &Env, emulator: bool, errors: &mut Vec<String>) -> RateLimits {
    let (ip_default, caller_default) = if emulator { (0, 0) } else { (50, 10) };
    let mut limit = |prefix: &str, default: u32| {
        let per_second = env.parse_or(
            &[&format!("{prefix}_PER_SEC")],
            default,
            "requests per second (0 turns the limit off)",
            errors,
        );
        let burst = env.parse_or(
            &[&format!("{prefix}_BURST")],
            per_second.saturating_mul(2),
            "a number of requests",
            errors,
        );
        (per_second > 0).then_some(Limit { per_second, burst })
    };
    let per_ip = limit("RATE_LIMIT_IP", ip_default);
    let per_caller = limit("RATE_LIMIT_CALLER", caller_default);
    RateLimits {
        per_ip,
        per_caller,
        trusted_proxy_hops: env.parse_or(
            &["RATE_LIMIT_TRUSTED_PROXY_HOPS"],
            0,
            "a whole number of proxies (1 on Cloud Run)",
            errors,
        ),
    }
}

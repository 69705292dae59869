//! Rows of the configuration table: Who may call: sign-in, rate limits, the admin token.

use super::{ALL, Setting, s};

pub(super) const SETTINGS: &[Setting] = &[
    s(
        &["AUTH_MODE"],
        ALL,
        "`oidc` (ID tokens); `header` (`X-Customer-Id`, `X-Role: staff`) is the default with the emulator and refused without it",
    ),
    s(
        &["AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"],
        ALL,
        "required with `oidc`: the tokens' `iss`, accepted `aud` values (comma-separated), the issuer's keys (https)",
    ),
    s(
        &["AUTH_CUSTOMER_CLAIM"],
        ALL,
        "`sub`: the claim holding the customer id",
    ),
    s(
        &["AUTH_STAFF_CLAIM", "AUTH_STAFF_VALUE"],
        ALL,
        "`role`, `staff`: staff are callers whose claim equals (or contains) the value",
    ),
    s(
        &[
            "AUTH_CLOCK_SKEW_SECS",
            "AUTH_JWKS_REFRESH_SECS",
            "AUTH_JWKS_MIN_REFRESH_SECS",
        ],
        ALL,
        "60, 3600, 30: `exp`/`nbf` leeway; key refresh period; least time between refreshes for unknown key ids",
    ),
    s(
        &["RATE_LIMIT_IP_PER_SEC", "RATE_LIMIT_IP_BURST"],
        ALL,
        "50, 100 in Google Cloud; off with the emulator unless set; 0 is off",
    ),
    s(
        &["RATE_LIMIT_CALLER_PER_SEC", "RATE_LIMIT_CALLER_BURST"],
        ALL,
        "10, 2 × the rate in Google Cloud; 0 (off) with the emulator unless set; the caller is the credential as sent",
    ),
    s(
        &["RATE_LIMIT_TRUSTED_PROXY_HOPS"],
        ALL,
        "0: the TCP peer is the client; 1 on Cloud Run",
    ),
    s(
        &["ADMIN_TOKEN"],
        "every service, `cartflow console`",
        "unset: the `/admin` routes answer 401; else their bearer token (≥ 16 characters); `--admin-token`",
    ),
];

//! Secrets in `Debug` output. Settings end up in logs and panic messages, so a struct
//! that holds a secret (a token, a password, a URL with a password in it) writes its
//! `Debug` by hand and formats those fields through these helpers instead of deriving.
//! Errors and logs that name a database use [`url`] too.

use std::fmt;

/// What a secret's value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// `url` with its password, and any query value that looks secret, replaced:
/// `postgres://app:<redacted>@db:5432/x`.
pub fn url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if looks_secret(key) => format!("{key}={REDACTED}"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_string(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// Whether a setting's or parameter's name says its value is a secret.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "secret", "token", "key", "credential", "headers"]
        .iter()
        .any(|word| name.contains(word))
}

/// An optional secret as `Some("<redacted>")` or `None`: whether it is set, never what.
pub fn secret<T>(value: &Option<T>) -> Option<&'static str> {
    value.as_ref().map(|_| REDACTED)
}

/// Formats a URL through [`url`], for `Debug` fields.
pub struct Url<'a>(pub &'a str);

impl fmt::Debug for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&url(self.0), f)
    }
}

/// An environment variable's value as it may be shown: URLs without their password,
/// secrets not at all.
pub fn setting(name: &str, value: &str) -> String {
    if looks_secret(name) {
        REDACTED.to_string()
    } else if value.contains("://") || value.contains('@') {
        url(value)
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_and_secret_parameters_only() {
        assert_eq!(
            url("postgres://app:hunter2@db:5432/cartflow_cart?sslmode=require&password=x"),
            format!(
                "postgres://app:{REDACTED}@db:5432/cartflow_cart?sslmode=require&password={REDACTED}"
            )
        );
        assert_eq!(
            url("postgres://postgres@127.0.0.1:5432"),
            "postgres://postgres@127.0.0.1:5432"
        );
        assert_eq!(url("https://a.example/x"), "https://a.example/x");
        assert!(!url("u:p4ss@host/db").contains("p4ss"));
        assert_eq!(setting("ADMIN_TOKEN", "0123456789abcdef"), REDACTED);
        assert_eq!(setting("SMTP_PASSWORD", "pw"), REDACTED);
        assert_eq!(setting("PORT", "3000"), "3000");
        assert!(!setting("DATABASE_URL", "postgres://a:b@c/d").contains(":b@"));
    }
}

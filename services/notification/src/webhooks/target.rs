//! Where a webhook may be sent: https only (plain http to loopback only where loopback
//! is allowed: with the emulator), and never to an address inside the network the
//! service runs in (private, link-local, the metadata server): a staff member could
//! otherwise make the service call its own neighbours (SSRF).
//!
//! Checked twice: when the URL is subscribed (its literal address, or every address
//! its name resolves to), and at every call by the HTTP client's resolver
//! ([`GuardedResolver`]), so a name that later resolves elsewhere (DNS rebinding) is
//! refused then too. Redirects are not followed.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Names that reach the cloud's metadata server whatever they resolve to.
const METADATA_HOSTS: [&str; 3] = ["metadata.google.internal", "metadata", "metadata.goog"];

/// Why an address may not be called, or `None` when it may.
pub fn refused_address(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("the metadata server's address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("a private address")
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || a == 0 || a >= 240 {
        Some("an address that is not a host's")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if first & 0xfe00 == 0xfc00 {
        Some("a private address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip == "fd00:ec2::254".parse::<Ipv6Addr>().expect("an address") {
        Some("the metadata server's address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("an address that is not a host's")
    } else {
        None
    }
}

/// A URL that may be subscribed: parsed and checked, before any name is resolved.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: url::Url,
}

/// Checks `raw` without resolving it: scheme, host, a literal address, known metadata
/// names. [`resolve_checked`] then checks what a name resolves to.
pub fn parse(raw: &str, allow_loopback: bool) -> Result<Target, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("'{raw}' is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a webhook URL may not carry credentials".into());
    }
    let host = url
        .host()
        .ok_or_else(|| format!("'{raw}' has no host"))?
        .to_owned();
    let (loopback_name, literal) = match &host {
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_HOSTS.contains(&name.as_str()) {
                return Err(format!("'{name}' is the metadata server"));
            }
            (name == "localhost" || name.ends_with(".localhost"), None)
        }
        url::Host::Ipv4(v4) => (false, Some(IpAddr::V4(*v4))),
        url::Host::Ipv6(v6) => (false, Some(IpAddr::V6(*v6))),
    };
    let loopback = loopback_name || literal.is_some_and(|ip| ip.is_loopback());
    if loopback && !allow_loopback {
        return Err(format!("'{host}' is a loopback address"));
    }
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(
                "a webhook URL must be https (plain http only to loopback, locally)".into(),
            );
        }
        other => return Err(format!("'{other}' URLs cannot receive webhooks; use https")),
    }
    if let Some(ip) = literal
        && let Some(why) = refused_address(ip, allow_loopback)
    {
        return Err(format!("'{host}' is {why}"));
    }
    Ok(Target { url })
}

/// Resolves the target's host and refuses it if any of its addresses is refused.
pub async fn resolve_checked(target: &Target, allow_loopback: bool) -> Result<(), String> {
    let Some(url::Host::Domain(name)) = target.url.host() else {
        return Ok(());
    };
    let port = target.url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| format!("'{name}' does not resolve: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("'{name}' resolves to no address"));
    }
    for addr in addrs {
        if let Some(why) = refused_address(addr.ip(), allow_loopback) {
            return Err(format!("'{name}' resolves to {}, {why}", addr.ip()));
        }
    }
    Ok(())
}

/// The HTTP client's resolver: the system's, with every refused address an error.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                if let Some(why) = refused_address(addr.ip(), allow_loopback) {
                    return Err(format!("'{host}' resolves to {}, {why}", addr.ip()).into());
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_public_addresses_and_loopback_where_allowed() {
        for ok in [
            "https://hooks.example.com/cartflow",
            "https://93.184.216.34/x",
            "https://[2606:2800:220:1::1]/x",
        ] {
            assert!(parse(ok, false).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://hooks.example.com/x", "must be https"),
            ("ftp://hooks.example.com/x", "cannot receive"),
            ("https://10.1.2.3/x", "private"),
            ("https://172.20.0.1/x", "private"),
            ("https://192.168.1.10/x", "private"),
            ("https://100.64.0.1/x", "private"),
            ("https://169.254.169.254/computeMetadata/v1/", "metadata"),
            ("https://169.254.1.1/", "link-local"),
            ("https://[fd00::1]/", "private"),
            ("https://[fe80::1]/", "link-local"),
            ("https://[::ffff:10.0.0.1]/", "private"),
            ("https://[::ffff:169.254.169.254]/", "metadata"),
            ("https://metadata.google.internal/", "metadata"),
            ("https://0.0.0.0/", "not a host"),
            ("https://127.0.0.1/x", "loopback"),
            ("http://localhost:8080/x", "loopback"),
            ("https://user:pw@hooks.example.com/x", "credentials"),
            ("not a url", "not a URL"),
        ] {
            let refusal = parse(bad, false).unwrap_err();
            assert!(refusal.contains(why), "{bad}: {refusal}");
        }
        assert!(parse("http://127.0.0.1:9/x", true).is_ok());
        assert!(parse("http://localhost:9/x", true).is_ok());
        assert!(parse("https://10.0.0.1/x", true).is_err(), "loopback only");
        assert!(parse("http://10.0.0.1/x", true).is_err());
    }
}

//! Rate limits on a service's own routes (not the probes, `/admin` or `/pubsub/push`),
//! from `tower_governor`: one bucket per client IP and one per caller. Over a limit a
//! request gets 429 problem+json with `Retry-After`, before any work is done.
//!
//! The caller's bucket is keyed on the verified credential only: the per-IP limit
//! comes first, then the credential is verified (signature and claims, no database
//! read; the routes reuse the result), and the caller's bucket is the customer it
//! proved to be. A request without a valid credential (none, a garbage or forged
//! bearer token, or `X-Customer-Id` in OIDC mode, where it means nothing) shares the
//! bucket of its IP address, so rotating made-up credentials mints no fresh buckets.
//! In header mode (emulator only) the development headers are the credential.

use super::{Authenticator, Caller, Verified};
use crate::http::ApiError;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, Response};
use axum::response::IntoResponse;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_governor::GovernorLayer;
use tower_governor::errors::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

/// How often idle buckets are dropped, so memory follows the active clients only.
const CLEANUP_EVERY: Duration = Duration::from_secs(60);

/// Sustained requests per second and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimits {
    /// `None`: no per-IP limit.
    pub per_ip: Option<Limit>,
    /// `None`: no per-caller limit.
    pub per_caller: Option<Limit>,
    /// Proxies in front that append the client's address to `X-Forwarded-For` (1 on
    /// Cloud Run). 0 uses the TCP peer, and the header (which anyone can set) is ignored.
    pub trusted_proxy_hops: usize,
}

/// `router` with the limits applied; idle buckets are swept until `stop`.
pub fn apply(router: Router, limits: &RateLimits, stop: &CancellationToken) -> Router {
    let ip = ClientIp {
        hops: limits.trusted_proxy_hops,
    };
    let mut router = router;
    if let Some(limit) = limits.per_caller {
        router = limited(router, CallerKey { ip }, limit, stop)
            .layer(axum::middleware::from_fn(verify_first));
    }
    if let Some(limit) = limits.per_ip {
        router = limited(router, ip, limit, stop);
    }
    router
}

/// Per-IP limits on `router` alone (the probes'), at a fixed rate.
pub fn per_ip(
    router: Router,
    limit: Limit,
    limits: &RateLimits,
    stop: &CancellationToken,
) -> Router {
    let ip = ClientIp {
        hops: limits.trusted_proxy_hops,
    };
    limited(router, ip, limit, stop)
}

/// Verifies the request's credential before the per-caller limit, and hands the
/// result to the routes ([`Verified`]). A refused credential is left for the route to
/// refuse (with its reason); its request counts against its IP's bucket.
async fn verify_first(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let authenticator = request.extensions().get::<Authenticator>().cloned();
    if let Some(authenticator) = authenticator
        && let Ok(Some(sign_in)) = authenticator.verify(request.headers()).await
    {
        request.extensions_mut().insert(Verified(sign_in));
    }
    next.run(request).await
}

fn limited<K>(router: Router, key: K, limit: Limit, stop: &CancellationToken) -> Router
where
    K: KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync + 'static,
{
    // Governor's quota is one request per period, refilled continuously.
    let every = Duration::from_nanos(1_000_000_000 / u64::from(limit.per_second.max(1)));
    let config = GovernorConfigBuilder::default()
        .key_extractor(key)
        .period(every)
        .burst_size(limit.burst.max(1))
        .finish()
        .expect("a non-zero period and burst");
    let limiter = config.limiter().clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(CLEANUP_EVERY) => limiter.retain_recent(),
            }
        }
    });
    router.layer(GovernorLayer::new(config).error_handler(problem))
}

fn problem(error: GovernorError) -> Response<axum::body::Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => ApiError::TooManyRequests {
            detail: "too many requests; slow down and retry after the given seconds".into(),
            retry_after: wait_time.max(1),
        }
        .into_response(),
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => {
            ApiError::BadRequest("the client's address could not be determined".into())
                .into_response()
        }
    }
}

/// The client's IP: what the trusted proxy saw, or the TCP peer.
#[derive(Debug, Clone, Copy)]
struct ClientIp {
    hops: usize,
}

impl ClientIp {
    fn of<T>(&self, request: &Request<T>) -> Option<IpAddr> {
        if self.hops > 0
            && let Some(ip) = forwarded_for(request.headers(), self.hops)
        {
            return Some(ip);
        }
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    }
}

/// The address `hops` entries from the right of `X-Forwarded-For`: the proxies
/// append, so the entries to the left of theirs are the client's to invent.
fn forwarded_for(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    let all: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let index = all.len().checked_sub(hops)?;
    all.get(index)?.trim().parse().ok()
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        self.of(request).ok_or(GovernorError::UnableToExtractKey)
    }
}

/// A caller's bucket: the verified caller, else the IP.
#[derive(Debug, Clone)]
struct CallerKey {
    ip: ClientIp,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bucket {
    Caller(Caller),
    Ip(IpAddr),
}

impl KeyExtractor for CallerKey {
    type Key = Bucket;

    fn extract<T>(&self, request: &Request<T>) -> Result<Bucket, GovernorError> {
        if let Some(Verified(sign_in)) = request.extensions().get::<Verified>() {
            return Ok(Bucket::Caller(sign_in.caller));
        }
        self.ip.extract(request).map(Bucket::Ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_trusted_proxys_entry_is_taken_from_the_right() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7"),
        );
        assert_eq!(
            forwarded_for(&headers, 1),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(forwarded_for(&headers, 2), Some("6.6.6.6".parse().unwrap()));
        assert_eq!(forwarded_for(&headers, 3), None);
        assert_eq!(forwarded_for(&HeaderMap::new(), 1), None);
    }
}

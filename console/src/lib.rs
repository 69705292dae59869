//! The web console: watch the saga live, explore a checkout, fix and replay dead
//! letters, and a storefront to drive it all (docs/console.md).
//!
//! Where its reads go:
//! - services' own routes (`/ready`, `/metrics`, the REST API) for the live overview,
//!   the topology's counts and the storefront;
//! - the services' `/admin` routes, with the operator's admin token, for dead letters
//!   and their replay;
//! - the services' event log (each service's `outbox`, `processed_messages` and
//!   `message_failures`, read-only) for the checkout explorer, as `cartflow timeline`
//!   does: no service route serves another service's log.
//!
//! Pages are server-rendered HTML with one small script each, embedded in the binary:
//! no CDN, no frontend build.
//!
//! Who may reach it: requests must name the console in `Host` (the address it listens
//! on, as `127.0.0.1`/`localhost`/`[::1]` with its port, or the host of its public URL),
//! else 421: a page of another site whose name resolves to the console's address (DNS
//! rebinding) gets nothing. Its session cookie is `Secure` when its public URL
//! (`CONSOLE_PUBLIC_URL`) is `https://`; `X-Forwarded-Proto` is not consulted.

pub mod databases;
pub mod timeline;

mod contract;
mod dead_letters;
mod explorer;
mod live;
mod pages;
mod payments;
mod series;
mod services;
mod session;
mod shop;
mod topology_graph;
mod webhooks;

use crate::databases::Databases;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use cartflow_events::Service;
pub use session::Operators;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the console needs to know of the platform it shows.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Base URL of every service, e.g. `http://127.0.0.1:3005` for cart.
    pub services: BTreeMap<Service, String>,
    /// The local mail catcher's view (`GET /messages`), when there is one; without it
    /// the storefront shows email-push's record of the emails it sent.
    pub mail_view: Option<String>,
    /// The services' databases, for the checkout explorer's reads of the event log.
    pub databases: Databases,
    /// How often the live overview samples the services.
    pub refresh: Duration,
    /// The console's address as browsers reach it, when that is not the address it
    /// listens on (a proxy, a port mapping): its host is allowed in `Host`, and an
    /// `https://` URL marks the session cookie `Secure`.
    pub public_url: Option<url::Url>,
    /// Who may sign in as an operator, and with what.
    pub operators: session::Operators,
}

impl ConsoleSettings {
    /// Every service on its SPEC port on `host`.
    pub fn default_urls(host: &str) -> BTreeMap<Service, String> {
        Service::ALL
            .iter()
            .map(|&s| (s, format!("http://{host}:{}", s.default_port())))
            .collect()
    }
}

/// The console's shared state: one per process.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ConsoleSettings,
    /// What `Host` may say (lower case, with the port).
    allowed_hosts: Vec<String>,
    services: services::Services,
    live: live::Live,
    sessions: session::Sessions,
    replays: dead_letters::ReplayLog,
}

impl Console {
    /// Builds the console listening on `listen` and starts sampling the services for
    /// the live overview, until `stop`.
    pub fn start(
        settings: ConsoleSettings,
        listen: SocketAddr,
        stop: CancellationToken,
    ) -> Console {
        let services = services::Services::new(settings.services.clone());
        let live = live::Live::start(services.clone(), settings.refresh, stop);
        Console {
            inner: Arc::new(Inner {
                allowed_hosts: allowed_hosts(listen, settings.public_url.as_ref()),
                settings,
                services,
                live,
                sessions: session::Sessions::default(),
                replays: dead_letters::ReplayLog::default(),
            }),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .merge(pages::router())
            .merge(live::router())
            .merge(explorer::router())
            .merge(dead_letters::router())
            .merge(session::router())
            .merge(shop::router())
            .merge(payments::router())
            .merge(contract::router())
            .merge(webhooks::router())
            .with_state(self.clone())
            .layer(axum::middleware::from_fn(same_origin_only))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                known_host_only,
            ))
            .layer(axum::middleware::map_response(security_headers))
    }

    /// Whether the session cookie must be `Secure`: the console is served over https.
    fn over_https(&self) -> bool {
        self.inner
            .settings
            .public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https")
    }
}

/// What `Host` may say: the listening port on the loopback names (and the listening
/// address itself), and the public URL's host with its port.
fn allowed_hosts(listen: SocketAddr, public_url: Option<&url::Url>) -> Vec<String> {
    let port = listen.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    if !listen.ip().is_unspecified() {
        hosts.push(listen.to_string());
    }
    if let Some(url) = public_url
        && let Some(host) = url.host_str()
    {
        let host = host.to_ascii_lowercase();
        match url.port() {
            // The browser leaves a default port out of `Host`.
            None => hosts.push(host),
            Some(port) => hosts.push(format!("{host}:{port}")),
        }
    }
    hosts
}

/// 421 for a request whose `Host` is not the console's: a browser sends the name it
/// resolved, so another site rebinding its name to this address is refused.
async fn known_host_only(
    axum::extract::State(console): axum::extract::State<Console>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let known = host.is_some_and(|h| console.inner.allowed_hosts.contains(&h));
    if !known {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "421 Misdirected Request: this console is not served under that host name\n",
        )
            .into_response();
    }
    next.run(request).await
}

/// Serves the console on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: ConsoleSettings,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let console = Console::start(settings, listener.local_addr()?, stop.clone());
    axum::serve(listener, console.router())
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}

/// A request that changes something must come from the console's own pages: a
/// browser names the page's origin in `Origin`, and another site's form or script
/// (cross-site request forgery) would name its own. Requests without `Origin` (curl)
/// are let through.
async fn same_origin_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let changes = !matches!(request.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let headers = request.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let foreign = match (origin, host) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if changes && foreign {
        return cartflow_kit::http::ApiError::Forbidden(
            "refused: the request comes from another site's page".into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Scripts and styles come only from the console itself, and no other site may frame
/// it: the dead-letter page acts with an operator's token.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

//! The web console: watch the saga live, explore a checkout, fix and replay dead
//! letters, and a storefront to drive it all (README, "Console").
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

mod dead_letters;
mod explorer;
mod live;
mod pages;
mod series;
mod services;
mod session;
mod shop;
mod topology_graph;

use crate::events::Databases;
use axum::Router;
use axum::http::{HeaderValue, header};
use cartflow_events::Service;
use std::collections::BTreeMap;
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
    services: services::Services,
    live: live::Live,
    sessions: session::Sessions,
    replays: dead_letters::ReplayLog,
}

impl Console {
    /// Builds the console and starts sampling the services for the live overview,
    /// until `stop`.
    pub fn start(settings: ConsoleSettings, stop: CancellationToken) -> Console {
        let services = services::Services::new(settings.services.clone());
        let live = live::Live::start(services.clone(), settings.refresh, stop);
        Console {
            inner: Arc::new(Inner {
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
            .with_state(self.clone())
            .layer(axum::middleware::from_fn(same_origin_only))
            .layer(axum::middleware::map_response(security_headers))
    }
}

/// Serves the console on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: ConsoleSettings,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let console = Console::start(settings, stop.clone());
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

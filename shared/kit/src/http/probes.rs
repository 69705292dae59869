//! `/health`: the process answers. `/ready`: its database and Pub/Sub answer too;
//! otherwise 503 naming what is down, so an orchestrator stops routing to it. With
//! OIDC sign-in, "identity" is down until the issuer's signing keys have been fetched
//! (every token is refused until then).
//!
//! `/ready` is public, so it gives nothing away and costs little: it names what is down
//! (`"down": ["database"]`) without the errors' text (those go to the log), its answer
//! is reused for [`READY_CACHE`] however often it is asked (the checks run at most once
//! per window, and concurrent requests wait for the same run), and each client address
//! may ask at most [`READY_LIMIT`] times a second (429 beyond).

use crate::auth::jwks::Jwks;
use crate::auth::rate_limit::{self, Limit, RateLimits};
use crate::http::Problem;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use cartflow_messaging::PubSubConfig;
use google_cloud_pubsub::client::TopicAdmin;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long one `/ready` answer is reused.
pub const READY_CACHE: Duration = Duration::from_secs(1);
/// Requests per second (burst twice that) one client address may send to `/ready`:
/// far above any orchestrator's or test's polling, far below a flood.
pub const READY_LIMIT: Limit = Limit {
    per_second: 50,
    burst: 100,
};

#[derive(Clone)]
pub struct Probes {
    pub service: &'static str,
    pub pool: PgPool,
    pub pubsub: PubSubConfig,
    pub topics: TopicAdmin,
    /// A topic the service publishes, read to check Pub/Sub; `None` for a service
    /// that neither publishes nor consumes (product), whose readiness ignores Pub/Sub.
    pub own_topic: Option<&'static str>,
    /// The sign-in keys (OIDC mode only).
    pub identity: Option<Arc<Jwks>>,
    /// The last answer, and how many times the checks have run.
    pub cache: ReadyCache,
}

/// The last `/ready` answer and when it was made.
#[derive(Clone, Default)]
pub struct ReadyCache {
    last: Arc<Mutex<Option<(Instant, StatusCode, Readiness)>>>,
    runs: Arc<AtomicU64>,
}

impl ReadyCache {
    /// How many times the checks have run (not how often `/ready` was asked).
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

/// The probes' routes and their description; `/ready` is rate limited per client
/// address (as `limits` finds it) until `stop`.
pub fn router(
    probes: Probes,
    limits: &RateLimits,
    stop: &CancellationToken,
) -> (Router, utoipa::openapi::OpenApi) {
    let (ready, mut description) = OpenApiRouter::new()
        .routes(routes!(ready))
        .with_state(probes.clone())
        .split_for_parts();
    let (health, health_description) = OpenApiRouter::new()
        .routes(routes!(health))
        .with_state(probes)
        .split_for_parts();
    description.merge(health_description);
    let router = health.merge(rate_limit::per_ip(ready, READY_LIMIT, limits, stop));
    (router, description)
}

/// The process answers.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
    service: &'static str,
}

/// Whether the service can do its work, and what is down if not.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    service: &'static str,
    /// What is down: `database`, `pubsub`, `identity`.
    down: Vec<&'static str>,
    /// Each check's `status` (`up` or `down`), without the errors' text.
    #[schema(value_type = Object)]
    checks: Value,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "probes",
    responses((status = 200, description = "The process answers", body = Health)))]
async fn health(State(p): State<Probes>) -> Json<Health> {
    Json(Health {
        status: "ok",
        service: p.service,
    })
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness: the database, Pub/Sub and (with OIDC sign-in) the issuer's keys answer.
#[utoipa::path(get, path = "/ready", tag = "probes",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Something it needs is down; `down` names what", body = Readiness),
        (status = 429, description = "This address asked too often (50 a second, bursts of 100)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn ready(State(p): State<Probes>) -> (StatusCode, Json<Readiness>) {
    let mut last = p.cache.last.lock().await;
    if let Some((at, status, body)) = last.as_ref()
        && at.elapsed() < READY_CACHE
    {
        return (*status, Json(body.clone()));
    }
    p.cache.runs.fetch_add(1, Ordering::Relaxed);
    let (status, body) = check(&p).await;
    *last = Some((Instant::now(), status, body.clone()));
    (status, Json(body))
}

/// Runs the checks. A failure's text goes to the log, not into the answer.
async fn check(p: &Probes) -> (StatusCode, Readiness) {
    let database = async {
        sqlx::query("SELECT 1")
            .execute(&p.pool)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let pubsub = async {
        match p.own_topic {
            Some(topic) => cartflow_messaging::provision::ping_topic(&p.pubsub, &p.topics, topic)
                .await
                .map_err(|e| format!("{e:#}")),
            None => Ok(()),
        }
    };
    let (database, pubsub) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, database),
        tokio::time::timeout(PROBE_TIMEOUT, pubsub),
    );
    let service = p.service;
    let check = |name: &str, result: Result<Result<(), String>, _>| {
        let error = match result {
            Ok(Ok(())) => return json!({ "status": "up" }),
            Ok(Err(error)) => error,
            Err(_) => "timed out".to_string(),
        };
        tracing::warn!(service, check = name, %error, "not ready");
        json!({ "status": "down" })
    };
    let mut checks = json!({
        "database": check("database", database),
        "pubsub": check("pubsub", pubsub),
    });
    if p.own_topic.is_none() {
        checks["pubsub"]["note"] = "not used by this service".into();
    }
    if let Some(jwks) = &p.identity {
        checks["identity"] = match jwks.status() {
            Ok(keys) => json!({ "status": "up", "keys": keys }),
            Err(error) => {
                tracing::warn!(service, check = "identity", %error, "not ready");
                json!({ "status": "down" })
            }
        };
    }
    let down: Vec<&str> = ["database", "pubsub", "identity"]
        .into_iter()
        .filter(|name| checks.get(name).is_some())
        .filter(|name| checks[name]["status"] != "up")
        .collect();
    let status = if down.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if down.is_empty() {
            "ready"
        } else {
            "unavailable"
        },
        service: p.service,
        down,
        checks,
    };
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// Probes whose database cannot be reached (nothing listens on port 1), with a
    /// password in its URL that must not come out.
    async fn probes_of_a_dead_database() -> Probes {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(500))
            .connect_lazy("postgres://app:pg-s3cret@127.0.0.1:1/cartflow_cart")
            .unwrap();
        let pubsub = PubSubConfig::emulator("127.0.0.1:1", "cartflow-local");
        Probes {
            service: "cart",
            pool,
            topics: pubsub.topic_admin().await.unwrap(),
            pubsub,
            own_topic: None,
            identity: None,
            cache: ReadyCache::default(),
        }
    }

    #[tokio::test]
    async fn ready_names_what_is_down_without_error_text_and_reuses_its_answer() {
        let probes = probes_of_a_dead_database().await;
        let (status, Json(readiness)) = ready(State(probes.clone())).await;
        let body = serde_json::to_value(&readiness).unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["down"], json!(["database"]), "{body}");
        assert_eq!(body["checks"]["database"], json!({ "status": "down" }));
        let text = body.to_string();
        for leak in ["error", "refused", "127.0.0.1", "pg-s3cret", "connect"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert_eq!(probes.cache.runs(), 1);

        // Asked again within the window, nothing is checked again.
        for _ in 0..5 {
            let (again, Json(same)) = ready(State(probes.clone())).await;
            assert_eq!((again, &same), (status, &readiness));
        }
        assert_eq!(probes.cache.runs(), 1, "the checks ran once per window");
        tokio::time::sleep(READY_CACHE + Duration::from_millis(100)).await;
        let _ = ready(State(probes.clone())).await;
        assert_eq!(probes.cache.runs(), 2, "and again after it");
    }

    #[tokio::test]
    async fn one_address_asking_too_often_gets_429() {
        let probes = probes_of_a_dead_database().await;
        let stop = CancellationToken::new();
        let (app, _) = router(probes.clone(), &RateLimits::default(), &stop);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ready", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..(READY_LIMIT.burst + 20) {
            statuses.push(http.get(&url).send().await.unwrap().status().as_u16());
        }
        assert!(statuses.contains(&429), "{statuses:?}");
        assert!(statuses.contains(&503), "{statuses:?}");
        assert!(
            probes.cache.runs() <= 2,
            "floods are answered from the cache"
        );
        stop.cancel();
    }
}

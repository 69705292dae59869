//! `/health`: the process answers. `/ready`: its database and Pub/Sub answer too;
//! otherwise 503 naming what is down, so an orchestrator stops routing to it. With
//! OIDC sign-in, "identity" is down until the issuer's signing keys have been fetched
//! (every token is refused until then).

use crate::auth::jwks::Jwks;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use cartflow_messaging::PubSubConfig;
use google_cloud_pubsub::client::TopicAdmin;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

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
}

pub fn router(probes: Probes) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(probes)
}

async fn health(State(p): State<Probes>) -> Json<Value> {
    Json(json!({ "status": "ok", "service": p.service }))
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

async fn ready(State(p): State<Probes>) -> (StatusCode, Json<Value>) {
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
    let check = |result: Result<Result<(), String>, _>| match result {
        Ok(Ok(())) => json!({ "status": "up" }),
        Ok(Err(error)) => json!({ "status": "down", "error": error }),
        Err(_) => json!({ "status": "down", "error": "timed out" }),
    };
    let mut checks = json!({ "database": check(database), "pubsub": check(pubsub) });
    if p.own_topic.is_none() {
        checks["pubsub"]["note"] = "not used by this service".into();
    }
    if let Some(jwks) = &p.identity {
        checks["identity"] = match jwks.status() {
            Ok(keys) => json!({ "status": "up", "keys": keys }),
            Err(error) => json!({ "status": "down", "error": error }),
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
    let body = json!({
        "status": if down.is_empty() { "ready" } else { "unavailable" },
        "service": p.service,
        "down": down,
        "checks": checks,
    });
    (status, Json(body))
}

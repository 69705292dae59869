//! `Idempotency-Key` (SPEC, "API conventions") on a real PostgreSQL, around a route of
//! the test's own that waits for the test's word: the same key while the first request
//! is still running is 409, with another body 422; once the first is answered, its
//! answer is replayed and the route never runs twice; an answer of 5xx is not kept.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use cartflow_kit::http::idempotency::{Idempotency, honour};
use cartflow_testkit::{TestInfra, eventually};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// The route's side: how often it ran, and the permits that let a run answer.
#[derive(Clone)]
struct Route {
    runs: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    /// Runs that answer 503 before the route starts making things.
    failures_left: Arc<AtomicUsize>,
}

async fn make(State(route): State<Route>, body: String) -> (StatusCode, String) {
    let run = route.runs.fetch_add(1, Ordering::SeqCst) + 1;
    let failing = route
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return (StatusCode::SERVICE_UNAVAILABLE, "not now".into());
    }
    route.gate.acquire().await.expect("gate open").forget();
    (StatusCode::CREATED, format!("made {body} in run {run}"))
}

/// The route behind the middleware on a database of its own; the `TestInfra` keeps that
/// database for as long as the test holds it.
async fn serve(route: Route) -> (TestInfra, String) {
    let infra = TestInfra::new().await;
    let migrator = cartflow_messaging::migrator_with(sqlx::migrate::Migrator::DEFAULT);
    let pool = infra.database("idempotency", &migrator).await;
    let guarded = Idempotency {
        pool,
        body_limit: 64 * 1024,
    };
    let app = Router::new()
        .route("/things", post(make))
        .with_state(route)
        .layer(axum::middleware::from_fn_with_state(guarded, honour));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/things", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (infra, url)
}

fn route(failures: usize) -> Route {
    Route {
        runs: Arc::default(),
        gate: Arc::new(Semaphore::new(0)),
        failures_left: Arc::new(AtomicUsize::new(failures)),
    }
}

async fn post_with(url: &str, key: &str, body: &str) -> reqwest::Response {
    // A request the middleware wrongly lets through waits on the gate: it fails the
    // test by timing out instead of hanging it.
    reqwest::Client::new()
        .post(url)
        .timeout(std::time::Duration::from_secs(10))
        .header("Idempotency-Key", key)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn problem_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["detail"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_flight_is_409_and_once_answered_its_answer_is_replayed() {
    let route = route(0);
    let (_infra, url) = serve(route.clone()).await;
    let first = tokio::spawn({
        let url = url.clone();
        async move { post_with(&url, "key-1", "a chair").await }
    });
    eventually("the first request running", || async {
        (route.runs.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;

    // While it runs: the same request is told to wait, another one with the key refused.
    let (status, detail) = problem_of(post_with(&url, "key-1", "a chair").await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{detail}");
    assert!(detail.contains("in flight"), "{detail}");
    let (status, detail) = problem_of(post_with(&url, "key-1", "a table").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{detail}");

    route.gate.add_permits(1);
    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    assert_eq!(first.text().await.unwrap(), "made a chair in run 1");

    // Answered: the retry gets the same answer, marked, and the route did not run again.
    let replayed = post_with(&url, "key-1", "a chair").await;
    assert_eq!(replayed.status(), StatusCode::CREATED);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.text().await.unwrap(), "made a chair in run 1");
    assert_eq!(route.runs.load(Ordering::SeqCst), 1);
    let (status, _) = problem_of(post_with(&url, "key-1", "a table").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another key is another request.
    route.gate.add_permits(1);
    let other = post_with(&url, "key-2", "a chair").await;
    assert_eq!(other.text().await.unwrap(), "made a chair in run 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_answer_is_not_kept_so_the_retry_runs_again() {
    let route = route(1);
    let (_infra, url) = serve(route.clone()).await;
    let failed = post_with(&url, "key-1", "a lamp").await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    route.gate.add_permits(1);
    let retried = post_with(&url, "key-1", "a lamp").await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    assert_eq!(retried.text().await.unwrap(), "made a lamp in run 2");
    // A key that is not one is refused before the route runs.
    let (status, detail) = problem_of(post_with(&url, " ", "a lamp").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{detail}");
    assert_eq!(route.runs.load(Ordering::SeqCst), 2);
}

//! The per-service test layer: one service's routes, called in process through its
//! router, and its event handler, driven through the shared consume path
//! (`Consumer::apply`: inbox, handler, outbox, one transaction), against a real
//! PostgreSQL database of the test's own, migrated like the service's. No Pub/Sub
//! and no other service: what the handler publishes stays staged in the outbox table,
//! where the test reads it back.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cartflow_events::{Envelope, Event, Service};
use cartflow_kit::config::database_url_for;
use cartflow_kit::databases;
use cartflow_kit::{AppContext, ServiceApp};
use cartflow_messaging::consumer::{Applied, Outcome};
use cartflow_messaging::{
    AnyHandler, Consumer, ConsumerSettings, EventHandler, HandlerError, Incoming, Outbox,
    PubSubConfig,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A database of the test's own on the `DATABASE_URL` server (scripts/test.sh starts
/// one), with the service's and the messaging migrations. Dropped with the value.
pub struct ServiceDb {
    pub pool: PgPool,
    server_url: String,
    name: String,
}

impl ServiceDb {
    pub async fn new<A: ServiceApp>() -> ServiceDb {
        let server_url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| cartflow_kit::config::DEFAULT_DATABASE_URL.into());
        let id = &Uuid::new_v4().simple().to_string()[..10];
        let name = A::SERVICE.prefixed_database_name(&format!("u_{id}_"));
        databases::ensure(&server_url, &name)
            .await
            .expect("creating the test database (is DATABASE_URL's server up?)");
        let url = database_url_for(&server_url, &name).expect("a database URL");
        let pool = cartflow_kit::db::connect(&url, 4)
            .await
            .expect("connecting");
        cartflow_kit::runtime::migrator_for(A::migrator())
            .run(&pool)
            .await
            .expect("migrating");
        ServiceDb {
            pool,
            server_url,
            name,
        }
    }
}

impl Drop for ServiceDb {
    fn drop(&mut self) {
        // A thread of its own: the test's runtime cannot block on itself.
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(databases::drop(&server_url, &name))
        });
        if let Ok(Err(err)) = dropped.join() {
            eprintln!("cleanup: {err:#}");
        }
    }
}

/// One service on its own database: its handler, and its routes.
pub struct HandlerHarness {
    pub db: ServiceDb,
    service: Service,
    consumer: Consumer,
    router: axum::Router,
    shutdown: CancellationToken,
}

impl HandlerHarness {
    /// `handler` in place of the app's own (e.g. one built with test settings).
    pub async fn new<A: ServiceApp>(handler: Arc<dyn AnyHandler>) -> HandlerHarness {
        let db = ServiceDb::new::<A>().await;
        Self::assemble::<A>(db, handler, axum::Router::new(), CancellationToken::new())
    }

    /// The service as `app` builds it: its own handler (if any) and its routes.
    pub async fn for_app<A: ServiceApp>(app: &A) -> HandlerHarness {
        let db = ServiceDb::new::<A>().await;
        let shutdown = CancellationToken::new();
        let ctx = AppContext {
            service: A::SERVICE,
            pool: db.pool.clone(),
            outbox: Outbox::new(A::SERVICE, db.pool.clone()),
            shutdown: shutdown.clone(),
        };
        let handler = app
            .handler(ctx.clone())
            .unwrap_or_else(|| Arc::new(NoHandler));
        // Callers as the development headers name them (`request_as`), as the runtime
        // does with the emulator.
        let router = app
            .router(ctx)
            .split_for_parts()
            .0
            .layer(axum::Extension(cartflow_kit::auth::Authenticator::Header));
        Self::assemble::<A>(db, handler, router, shutdown)
    }

    fn assemble<A: ServiceApp>(
        db: ServiceDb,
        handler: Arc<dyn AnyHandler>,
        router: axum::Router,
        shutdown: CancellationToken,
    ) -> HandlerHarness {
        // Only names the subscription in logs: nothing connects to Pub/Sub.
        let pubsub = PubSubConfig::emulator("127.0.0.1:1", "unit");
        let consumer = Consumer::new(
            Outbox::new(A::SERVICE, db.pool.clone()),
            handler,
            &pubsub,
            "unit",
            ConsumerSettings::default(),
        );
        HandlerHarness {
            db,
            service: A::SERVICE,
            consumer,
            router,
            shutdown,
        }
    }

    /// Sends one request to the service's routes as staff (who may call every route),
    /// in process; returns the status and the body as JSON (`Null` when empty).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        self.request_as(&[("x-role", "staff")], method, path, body)
            .await
    }

    /// [`Self::request`] with the caller's development headers (`x-customer-id`,
    /// `x-role`); `&[]` is anonymous.
    pub async fn request_as(
        &self,
        caller: &[(&str, &str)],
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        use tower::ServiceExt;
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in caller {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("a request"))
            .await
            .expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        };
        (status, json)
    }

    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// Batches applied again message by message after their one-go try failed
    /// ([`Consumer::fallbacks`]): a test of the one-go path asserts it stays 0.
    pub fn fallbacks(&self) -> u64 {
        self.consumer.fallbacks()
    }

    /// Applies `event` as a new message from its topic's publisher.
    pub async fn deliver<E: Event + Serialize>(&self, event: &E) -> Applied {
        self.deliver_as(&envelope_for::<E>(Uuid::new_v4()), event)
            .await
    }

    /// Applies `event` under `envelope` (the same envelope twice is a duplicate).
    pub async fn deliver_as<E: Event + Serialize>(
        &self,
        envelope: &Envelope,
        event: &E,
    ) -> Applied {
        let incoming = Incoming::new(
            envelope.clone(),
            serde_json::to_vec(event).expect("an event serialises"),
        );
        self.consumer.apply(&incoming).await
    }

    /// Applies `events` as one batch of new messages (one transaction), as a consumer
    /// under load would; one result per event, or `Err` if the transaction failed. A
    /// batch is applied in event-id order: here the ids ascend in the order given.
    pub async fn deliver_batch<E: Event + Serialize>(
        &self,
        events: &[E],
    ) -> Result<Vec<Applied>, HandlerError> {
        self.deliver_mixed(events.iter().map(message).collect())
            .await
    }

    /// [`HandlerHarness::deliver_batch`] for messages of any topics (made with
    /// [`message`]); their event ids are set to ascend in the order given.
    pub async fn deliver_mixed(
        &self,
        mut messages: Vec<Incoming>,
    ) -> Result<Vec<Applied>, HandlerError> {
        let mut ids: Vec<Uuid> = messages.iter().map(|_| Uuid::new_v4()).collect();
        ids.sort();
        for (message, event_id) in messages.iter_mut().zip(ids) {
            message.envelope.event_id = event_id;
        }
        self.consumer
            .apply_batch(&messages.iter().collect::<Vec<_>>())
            .await
    }

    /// Applies `json` as a new message on `E`'s topic, whatever it holds: for payloads
    /// a real publisher would never write.
    pub async fn deliver_json<E: Event>(&self, json: &serde_json::Value) -> Applied {
        let incoming = Incoming::new(
            envelope_for::<E>(Uuid::new_v4()),
            serde_json::to_vec(json).expect("JSON serialises"),
        );
        self.consumer.apply(&incoming).await
    }

    /// Applies `event`, insisting it was processed (not a duplicate, not refused).
    pub async fn processed<E: Event + Serialize>(&self, event: &E) {
        match self.deliver(event).await {
            Ok(Outcome::Processed) => {}
            other => panic!("{} did not process {}: {other:?}", self.service, E::TOPIC),
        }
    }

    /// Every `E` the service has staged for publishing, oldest first.
    pub async fn staged<E: Event + DeserializeOwned>(&self) -> Vec<E> {
        let payloads: Vec<serde_json::Value> =
            sqlx::query_scalar("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id")
                .bind(E::TOPIC.name())
                .fetch_all(self.pool())
                .await
                .expect("reading the outbox");
        payloads
            .into_iter()
            .map(|p| serde_json::from_value(p).expect("a staged event parses"))
            .collect()
    }

    /// Runs a `SELECT count(*) …` (or any single bigint) on the service's database.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for HandlerHarness {
    fn drop(&mut self) {
        // Ends whatever the routes started (e.g. live streams).
        self.shutdown.cancel();
    }
}

/// For a service that consumes nothing: every event is unexpected.
struct NoHandler;

#[async_trait::async_trait]
impl EventHandler for NoHandler {
    type Message = ();

    fn decode(&self, event: &Incoming) -> Result<(), cartflow_messaging::HandlerError> {
        Err(event.unexpected())
    }

    async fn handle_batch(
        &self,
        _tx: &mut cartflow_messaging::Tx,
        _batch: &cartflow_messaging::Batch<'_, ()>,
    ) -> Result<(), cartflow_messaging::HandlerError> {
        Ok(())
    }
}

/// An envelope as `E`'s publisher would write it, for saga `correlation_id`.
pub fn envelope_for<E: Event>(correlation_id: Uuid) -> Envelope {
    Envelope {
        event_id: Uuid::new_v4(),
        event_type: E::TOPIC.name().into(),
        event_version: E::VERSION,
        correlation_id: correlation_id.to_string(),
        causation_id: correlation_id.to_string(),
        producer: E::TOPIC.publisher().name().into(),
        occurred_at: chrono::Utc::now(),
    }
}

/// `event` as a new message from its topic's publisher, for
/// [`HandlerHarness::deliver_mixed`].
pub fn message<E: Event + Serialize>(event: &E) -> Incoming {
    Incoming::new(
        envelope_for::<E>(Uuid::new_v4()),
        serde_json::to_vec(event).expect("an event serialises"),
    )
}

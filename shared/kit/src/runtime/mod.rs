//! Runs one service: the same start-up and shutdown for all seven.
//!
//! Start: connect and migrate the database, check the dedup window against the
//! subscriptions' retention, start the outbox relay, one consumer per subscription the
//! topology gives the service, the retention worker, then HTTP (the service's routes, the
//! probes, the operator's `/admin` routes, and `/pubsub/push` in push mode).
//! Shutdown (SIGINT/SIGTERM or the caller's token): stop accepting requests and pulling
//! messages, finish in-flight requests and messages, then publish what is left in the
//! outbox and flush the publisher.
//!
//! [`main`] and [`serve`] are a service binary's whole `main`: settings from the
//! environment, signals, exit codes, `healthcheck`.

mod process;

pub use process::{main, serve, shutdown_on_signal};

use crate::auth::{Authenticator, rate_limit};
use crate::config::ServiceConfig;
use crate::http::ApiError;
use crate::http::admin::{self, Admin};
use crate::http::idempotency::{self, Idempotency};
use crate::http::openapi::{self, ApiRouter};
use crate::http::probes::{self, Probes};
use crate::push::{self, DeliveryMode};
use crate::{db, metrics};
use anyhow::Context;
use axum::Extension;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use cartflow_events::{Service, Topic};
use cartflow_messaging::consumer::Gatherer;
use cartflow_messaging::{AnyHandler, Consumer, Outbox, OutboxRelay, migrator_with};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// What routes, handlers and workers get: the service's database, its outbox, and
/// the token that says the service is shutting down (long-lived responses such as
/// server-sent events must end on it, or graceful shutdown would wait for them).
#[derive(Clone)]
pub struct AppContext {
    pub service: Service,
    pub pool: PgPool,
    pub outbox: Outbox,
    pub shutdown: CancellationToken,
}

/// A service's own long-running task, stopped by its `AppContext::shutdown`, which is
/// cancelled after the service's consumers have finished their last batches.
pub type Worker = futures::future::BoxFuture<'static, ()>;

/// A service's own parts. Everything else is the kit's.
pub trait ServiceApp: Send + Sync + 'static {
    const SERVICE: Service;

    /// The service's own migrations; the kit adds the inbox and outbox tables.
    fn migrator() -> Migrator;

    /// The service's routes with their state applied, each registered with its
    /// OpenAPI description (`routes!` of handlers with `#[utoipa::path]`).
    fn router(&self, ctx: AppContext) -> ApiRouter;

    /// The handler for every subscription the topology gives this service.
    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        None
    }

    /// Background work of the service's own (e.g. sending email), started with it,
    /// stopped once the consumers have stopped (so it takes up what their last batches
    /// handed over) and awaited before the outbox is flushed.
    fn workers(&self, _ctx: AppContext) -> Vec<Worker> {
        Vec::new()
    }
}

/// A started service. Await [`RunningService::stopped`] after cancelling its token.
pub struct RunningService {
    pub service: Service,
    pub addr: SocketAddr,
    pub pool: PgPool,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningService {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits for the shutdown sequence to finish.
    pub async fn stopped(self) -> anyhow::Result<()> {
        self.task.await.context("service task panicked")?
    }
}

/// How often a service on the emulator checks that the topology is still there.
const TOPOLOGY_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Migrates the service's database to the latest version.
pub async fn migrate<A: ServiceApp>(pool: &PgPool) -> anyhow::Result<()> {
    db::migrate(pool, &migrator_for(A::migrator())).await
}

/// A service's migrations with what every service's database holds besides: the
/// plumbing's (inbox, outbox, failures: [`migrator_with`]) and the kit's own
/// (`shared/kit/migrations`: `deleted_customers`, beside `auth/deleted.rs`, which fills
/// and reads it). One migration history per database; the kit's versions are small
/// integers apart from the plumbing's.
pub fn migrator_for(service: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    let kit = sqlx::migrate!("./migrations");
    let migrations: Vec<_> = service
        .migrations
        .iter()
        .chain(kit.migrations.iter())
        .cloned()
        .collect();
    migrator_with(sqlx::migrate::Migrator {
        migrations: migrations.into(),
        ..service
    })
}

/// Starts `app` and returns once it is listening and consuming.
pub async fn start<A: ServiceApp>(
    app: A,
    config: ServiceConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningService> {
    let service = A::SERVICE;
    // Before anything registers a series (the consumers keep theirs).
    metrics::install();
    let pool = db::connect(&config.database_url, config.db_max_connections).await?;
    migrate::<A>(&pool)
        .await
        .with_context(|| format!("migrating the {service} database"))?;
    let outbox = Outbox::new(service, pool.clone());
    let ctx = AppContext {
        service,
        pool: pool.clone(),
        outbox: outbox.clone(),
        shutdown: shutdown.clone(),
    };

    check_dedup_window(&config, service).await?;
    let relay =
        OutboxRelay::new(outbox.clone(), config.pubsub.clone(), config.relay.clone()).await?;
    let relay_stop = CancellationToken::new();
    let relay_task = tokio::spawn(relay.run(relay_stop.clone()));

    let own_topic = Topic::ALL
        .into_iter()
        .find(|t| t.publisher() == service)
        .map(Topic::name);
    // Push subscriptions would come back as pull ones: restoring is for pull only.
    let restore = config.restore_topology && matches!(config.delivery, DeliveryMode::Pull);
    let (topology_back, streams_reopen) = tokio::sync::watch::channel(0u64);

    let mut consumers = JoinSet::new();
    let mut push_routes = None;
    if let Some(handler) = app.handler(ctx.clone()) {
        let all: Vec<_> = config
            .pubsub
            .topology()
            .subscriptions_of(service)
            .map(|sub| {
                Consumer::new(
                    outbox.clone(),
                    handler.clone(),
                    &config.pubsub,
                    &sub.name,
                    config.consumer.clone(),
                )
            })
            .collect();
        match &config.delivery {
            DeliveryMode::Pull => {
                let subscriber = config.pubsub.subscriber().await?;
                for consumer in all {
                    let consumer = match restore {
                        true => consumer.reopen_on(streams_reopen.clone()),
                        false => consumer,
                    };
                    consumers.spawn(consumer.run(subscriber.clone(), shutdown.clone()));
                }
            }
            DeliveryMode::Push(auth) => {
                // Its batches end once the HTTP server (which holds the gatherer) has
                // answered its last request.
                let (gatherer, batches) = Gatherer::new(all);
                consumers.spawn(batches);
                push_routes = Some(push::router(gatherer, auth));
            }
        }
    }

    // The service's own workers stop only once the consumers have finished their last
    // batches, so that work those batches hand over in memory (a payment step, an
    // email) is still taken up here, not left to wait for its claim to run out. The
    // guard stops them too if the start fails below.
    let workers_stop = CancellationToken::new();
    let stop_workers = workers_stop.clone().drop_guard();
    let mut workers: Vec<_> = app
        .workers(AppContext {
            shutdown: workers_stop,
            ..ctx.clone()
        })
        .into_iter()
        .map(tokio::spawn)
        .collect();

    workers.push(tokio::spawn(metrics::sample_outbox(
        pool.clone(),
        service,
        shutdown.clone(),
    )));
    workers.push(tokio::spawn(cartflow_messaging::retention::run(
        pool.clone(),
        service,
        config.retention.clone(),
        shutdown.clone(),
    )));

    if let (true, Some(topic)) = (restore, own_topic) {
        workers.push(tokio::spawn(cartflow_messaging::provision::keep_topology(
            config.pubsub.clone(),
            topic,
            TOPOLOGY_CHECK_INTERVAL,
            shutdown.clone(),
            topology_back,
        )));
    }

    let authenticator = Authenticator::new(&config.auth, pool.clone());
    let identity = authenticator.jwks().map(|(jwks, refresh)| {
        workers.push(tokio::spawn(
            jwks.clone().keep_fresh(refresh, shutdown.clone()),
        ));
        jwks
    });

    let probes = Probes {
        service: service.name(),
        identity,
        pool: pool.clone(),
        topics: config.pubsub.topic_admin().await?,
        pubsub: config.pubsub.clone(),
        own_topic,
        cache: Default::default(),
    };
    let admin = Admin {
        service,
        token: config.admin_token.as_deref().map(Into::into),
        pubsub: config.pubsub.clone(),
        outbox: outbox.clone(),
    };
    // Rate limits and sign-in cover the service's own routes; the probes, `/admin`
    // (its own token) and `/pubsub/push` (Pub/Sub's token) are outside them.
    let (own_routes, description) = app.router(ctx).split_for_parts();
    let idempotency = Idempotency {
        pool: pool.clone(),
        body_limit: config.body_limit_bytes,
    };
    let own_routes = own_routes.layer(axum::middleware::from_fn_with_state(
        idempotency,
        idempotency::honour,
    ));
    let own_routes = rate_limit::apply(own_routes, &config.rate_limits, &shutdown)
        .layer(Extension(authenticator));
    // The kit's routes go into the same description as the service's own.
    let mut description = description;
    let (probe_routes, probes_described) = probes::router(probes, &config.rate_limits, &shutdown);
    description.merge(probes_described);
    let mut kit_routes = metrics::router().merge(admin::router(admin));
    if let Some(push) = push_routes {
        kit_routes = kit_routes.merge(push);
    }
    let (kit_routes, kit_described) = kit_routes.split_for_parts();
    description.merge(kit_described);
    let (document_route, document_described) = openapi::router().split_for_parts();
    description.merge(document_described);
    let document = Arc::new(openapi::finish(service, description));
    let router = metrics::record_http(own_routes, service)
        .merge(document_route.with_state(document))
        .merge(probe_routes)
        .merge(kit_routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(crate::http::request_id::assign))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(crate::http::trace::layer(service));
    let listener = tokio::net::TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("binding {service} to {}:{}", config.host, config.port))?;
    let addr = listener.local_addr()?;
    let (delivery, pulling) = match config.delivery {
        DeliveryMode::Pull => ("pull", consumers.len()),
        DeliveryMode::Push(_) => ("push", 0),
    };
    tracing::info!(%service, %addr, delivery, pulling, "service started");

    let task = tokio::spawn(async move {
        // The peer address feeds the per-IP rate limit.
        let http = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
        while consumers.join_next().await.is_some() {}
        drop(stop_workers);
        for worker in workers {
            worker.await.ok();
        }
        // Consumers and workers are done, so no new rows can appear: publish the rest and stop.
        relay_stop.cancel();
        relay_task.await.ok();
        tracing::info!(%service, "service stopped");
        http.context("HTTP server failed")
    });
    Ok(RunningService {
        service,
        addr,
        pool,
        task,
    })
}

/// Refuses to start when the dedup window is shorter than the time a message can come
/// back, as the service's own subscriptions and their topics report their retention.
/// If Pub/Sub cannot be asked (down, or no permission to read them), the
/// configuration's check against the default retention stands and a warning says so.
async fn check_dedup_window(config: &ServiceConfig, service: Service) -> anyhow::Result<()> {
    if config
        .pubsub
        .topology()
        .subscriptions_of(service)
        .next()
        .is_none()
    {
        return Ok(());
    }
    match cartflow_messaging::provision::longest_retention(&config.pubsub, service).await {
        Ok(retention) => config
            .retention
            .check_dedup_window(retention)
            .map_err(|refusal| anyhow::anyhow!("INBOX_RETENTION_DAYS: {refusal}")),
        Err(err) => {
            tracing::warn!(%service, error = format!("{err:#}"),
                "cannot read the subscriptions' retention; assuming Pub/Sub's default (7 days)");
            Ok(())
        }
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

//! Every service of the saga in one process: each with its own port, database,
//! outbox relay and consumers, configured through the same environment variables the
//! standalone binaries read. `cartflow dev` and the end-to-end tests (through
//! `cartflow_e2e`) run it; [`serve`] runs one service as this process
//! (`cartflow serve <service>`); [`smtp_catcher`] is the mail server of `dev`, `stack`
//! and the tests; [`gateway`] their payment sandbox; [`pusher`] pushes for `stack
//! --push-concurrency`, at Pub/Sub's concurrency rather than the emulator's.

pub mod gateway;
pub mod logins;
pub mod pusher;
pub mod smtp_catcher;

use anyhow::Context;
use cartflow_events::Service;
use cartflow_kit::config::database_url_for;
use cartflow_kit::databases;
use cartflow_kit::runtime::{self, RunningService};
use cartflow_kit::{Env, ServiceApp, ServiceConfig};
use cartflow_messaging::PubSubConfig;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The services this platform runs, in start order (cart needs product's URL).
pub const SERVICES: [Service; 8] = [
    Service::Product,
    Service::Customer,
    Service::Inventory,
    Service::Order,
    Service::Notification,
    Service::EmailPush,
    Service::Payment,
    Service::Cart,
];

/// Its `Debug` hides the server URL's password and the secrets among `env`.
#[derive(Clone)]
pub struct PlatformSettings {
    /// PostgreSQL server URL; each service gets its own database on it.
    pub server_url: String,
    /// Prepended to every database name (`cartflow_cart` → `t_ab12_cartflow_cart`).
    pub database_prefix: String,
    pub pubsub: PubSubConfig,
    /// `None`: every service on its SPEC port. `Some(0)`: free ports (tests).
    pub port_override: Option<u16>,
    /// Extra settings passed to every service (e.g. `DB_MAX_CONNECTIONS`).
    pub env: Env,
    /// Each service signs in as its own login, kept out of the other databases as in
    /// Cloud SQL ([`logins`]); otherwise every service signs in as `server_url`'s user.
    pub own_logins: bool,
}

impl std::fmt::Debug for PlatformSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSettings")
            .field("server_url", &cartflow_kit::redact::Url(&self.server_url))
            .field("database_prefix", &self.database_prefix)
            .field("pubsub", &self.pubsub)
            .field("port_override", &self.port_override)
            .field("env", &self.env)
            .field("own_logins", &self.own_logins)
            .finish()
    }
}

impl PlatformSettings {
    pub fn database_name(&self, service: Service) -> String {
        service.prefixed_database_name(&self.database_prefix)
    }

    /// The environment one service would be started with as a separate process.
    pub fn service_env(&self, service: Service) -> anyhow::Result<Env> {
        let prefix = service.env_prefix();
        let mut env = self.env.clone();
        let server_url = match self.own_logins {
            true => {
                let login = logins::login_of(&self.database_prefix, service);
                logins::signed_in_as(&self.server_url, &login)?
            }
            false => self.server_url.clone(),
        };
        let url = database_url_for(&server_url, &self.database_name(service))
            .map_err(anyhow::Error::msg)?;
        env.set(format!("{prefix}_DATABASE_URL"), url)
            .set("PUBSUB_PROJECT_ID", &self.pubsub.project_id)
            .set("CARTFLOW_TOPIC_PREFIX", &self.pubsub.topic_prefix);
        if let Some(host) = &self.pubsub.emulator_host {
            env.set("PUBSUB_EMULATOR_HOST", host);
        }
        if let Some(port) = self.port_override {
            env.set(format!("{prefix}_PORT"), port.to_string());
        }
        Ok(env)
    }
}

/// One hosted service: how it was configured, and its handle while it runs.
struct Slot {
    service: Service,
    env: Env,
    running: Option<(RunningService, CancellationToken)>,
}

pub struct Platform {
    slots: Vec<Slot>,
    shutdown: CancellationToken,
}

impl Platform {
    /// Creates the databases (if missing) and, with `own_logins`, each service's login
    /// into its own; provisions the topology, and starts every service. Each service
    /// migrates its own database as it starts.
    pub async fn start(settings: &PlatformSettings) -> anyhow::Result<Platform> {
        for service in SERVICES {
            let name = settings.database_name(service);
            if databases::ensure(&settings.server_url, &name).await? {
                tracing::info!(database = %name, "database created");
            }
            if settings.own_logins {
                logins::isolate(&settings.server_url, &settings.database_prefix, service).await?;
            }
        }
        if settings.own_logins {
            tracing::info!(
                "each service signs in as its own login (terraform/sql/bootstrap-database.sql)"
            );
        }
        let report = cartflow_messaging::provision::provision(&settings.pubsub)
            .await
            .context("provisioning the Pub/Sub topology")?;
        tracing::info!(
            created = report.created.len(),
            existing = report.existing.len(),
            "topology provisioned"
        );

        let mut platform = Platform {
            slots: Vec::new(),
            shutdown: CancellationToken::new(),
        };
        for service in SERVICES {
            let mut env = settings.service_env(service)?;
            // Unless the caller points cart elsewhere (a test's unresponsive product).
            if service == Service::Cart && env.get("PRODUCT_SERVICE_URL").is_none() {
                env.set("PRODUCT_SERVICE_URL", platform.url(Service::Product));
            }
            platform.slots.push(Slot {
                service,
                env,
                running: None,
            });
            if let Err(err) = platform.start_service(service).await {
                platform.stop().await.ok();
                return Err(err);
            }
        }
        if let Err(err) = platform.route_deliveries(settings).await {
            platform.stop().await.ok();
            return Err(err);
        }
        Ok(platform)
    }

    /// Provisions the topology again and routes deliveries as at start: what an operator
    /// (or Terraform) does after the emulator lost everything in a restart. Services in
    /// push mode do not restore the topology themselves.
    pub async fn provision_again(&self, settings: &PlatformSettings) -> anyhow::Result<()> {
        cartflow_messaging::provision::provision(&settings.pubsub)
            .await
            .context("provisioning the Pub/Sub topology")?;
        self.route_deliveries(settings).await
    }

    /// With `PUBSUB_DELIVERY=push`, points each service's subscriptions at its push
    /// route (the ports are known only now); otherwise makes sure they are pull
    /// subscriptions, as a previous push run on the same emulator may have left them.
    async fn route_deliveries(&self, settings: &PlatformSettings) -> anyhow::Result<()> {
        let push = settings.env.get("PUBSUB_DELIVERY") == Some("push");
        let endpoints: Vec<_> = SERVICES
            .iter()
            .map(|&s| (s, if push { self.url(s) } else { String::new() }))
            .collect();
        cartflow_messaging::provision::set_push_endpoints(
            &settings.pubsub,
            &endpoints,
            cartflow_kit::push::PUSH_PATH,
        )
        .await
    }

    fn slot(&self, service: Service) -> &Slot {
        self.slots
            .iter()
            .find(|s| s.service == service)
            .unwrap_or_else(|| panic!("{service} is not hosted here"))
    }

    fn running(&self, service: Service) -> &RunningService {
        let slot = self.slot(service);
        &slot
            .running
            .as_ref()
            .unwrap_or_else(|| panic!("{service} is stopped"))
            .0
    }

    /// The service's URL. For a stopped service, the address it had (it restarts on
    /// the same port), which is also where a stand-in process for it would listen.
    pub fn url(&self, service: Service) -> String {
        let slot = self.slot(service);
        match &slot.running {
            Some((running, _)) => running.url(),
            None => {
                let port = slot
                    .env
                    .get(&format!("{}_PORT", service.env_prefix()))
                    .unwrap_or_else(|| panic!("{service} has never run"));
                format!("http://127.0.0.1:{port}")
            }
        }
    }

    /// The environment the service runs with here: what a separate process standing in
    /// for it (`cartflow serve <service>`) needs to behave the same.
    pub fn env_of(&self, service: Service) -> &Env {
        &self.slot(service).env
    }

    /// The service's own database pool (tests read state through it).
    pub fn pool(&self, service: Service) -> &PgPool {
        &self.running(service).pool
    }

    /// Stops one service gracefully, as its own process would on SIGTERM.
    pub async fn stop_service(&mut self, service: Service) -> anyhow::Result<()> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.service == service)
            .expect("hosted service");
        let Some((running, token)) = slot.running.take() else {
            return Ok(());
        };
        // Come back on the same port, so that callers' URLs stay right.
        slot.env.set(
            format!("{}_PORT", service.env_prefix()),
            running.addr.port().to_string(),
        );
        token.cancel();
        running.stopped().await
    }

    /// Changes a setting of one service for its next start (tests restart a service
    /// with, say, a tuned deadline).
    pub fn set_service_env(&mut self, service: Service, key: &str, value: &str) {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.service == service)
            .expect("hosted service");
        slot.env.set(key, value);
    }

    /// Starts a hosted service that is not running.
    pub async fn start_service(&mut self, service: Service) -> anyhow::Result<()> {
        let token = self.shutdown.child_token();
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.service == service)
            .expect("hosted service");
        if slot.running.is_some() {
            return Ok(());
        }
        let started = with_app(
            service,
            Start {
                env: &slot.env,
                shutdown: &token,
            },
        )
        .await;
        let running = started.with_context(|| format!("starting the {service} service"))?;
        slot.running = Some((running, token));
        Ok(())
    }

    /// Stops every service gracefully: requests and messages in flight finish, the
    /// outboxes are flushed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let mut first_error = None;
        for slot in &mut self.slots {
            let Some((running, _)) = slot.running.take() else {
                continue;
            };
            if let Err(err) = running.stopped().await {
                tracing::error!(service = %slot.service, error = format!("{err:#}"), "stopped with an error");
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// What is done with "the app of a service", whichever service it is: hosting it in
/// this process, or serving it as this process. [`with_app`] holds the one table of
/// services and their apps, so adding a service touches one place.
trait WithApp {
    type Output;
    fn with<A: ServiceApp>(self, build: AppBuilder<A>) -> impl Future<Output = Self::Output>;
}

type AppBuilder<A> = fn(&Env) -> Result<A, cartflow_kit::ConfigError>;

async fn with_app<W: WithApp>(service: Service, work: W) -> W::Output {
    match service {
        Service::Product => work.with(product_service::ProductApp::from_env).await,
        Service::Customer => work.with(customer_service::CustomerApp::from_env).await,
        Service::Inventory => work.with(inventory_service::InventoryApp::from_env).await,
        Service::Order => work.with(order_service::OrderApp::from_env).await,
        Service::Notification => {
            work.with(notification_service::NotificationApp::from_env)
                .await
        }
        Service::EmailPush => work.with(email_push_service::EmailPushApp::from_env).await,
        Service::Cart => work.with(cart_service::CartApp::from_env).await,
        Service::Payment => work.with(payment_service::PaymentApp::from_env).await,
    }
}

/// Reads a service's whole configuration from `env` as starting it would, and starts
/// nothing: what a check of the settings (and their defaults) needs.
pub async fn read_settings(service: Service, env: &Env) -> anyhow::Result<()> {
    with_app(service, ReadSettings(env)).await
}

struct ReadSettings<'a>(&'a Env);

impl WithApp for ReadSettings<'_> {
    type Output = anyhow::Result<()>;
    async fn with<A: ServiceApp>(self, build: AppBuilder<A>) -> Self::Output {
        ServiceConfig::from_env(A::SERVICE, self.0)?;
        build(self.0)?;
        Ok(())
    }
}

/// Hosts a service in this process until `shutdown`.
struct Start<'a> {
    env: &'a Env,
    shutdown: &'a CancellationToken,
}

impl WithApp for Start<'_> {
    type Output = anyhow::Result<RunningService>;
    async fn with<A: ServiceApp>(self, build: AppBuilder<A>) -> Self::Output {
        let config = ServiceConfig::from_env(A::SERVICE, self.env)?;
        let app = build(self.env)?;
        runtime::start(app, config, self.shutdown.clone()).await
    }
}

/// Serves a service as this process, until a signal.
struct Serve(Env);

impl WithApp for Serve {
    type Output = std::process::ExitCode;
    async fn with<A: ServiceApp>(self, build: AppBuilder<A>) -> Self::Output {
        runtime::serve(self.0, build).await
    }
}

/// Runs one service as this process, configured from the environment exactly as its
/// own binary (`<service>-service`) would be: `cartflow serve <service>`.
pub async fn serve(service: Service, env: Env) -> std::process::ExitCode {
    with_app(service, Serve(env)).await
}

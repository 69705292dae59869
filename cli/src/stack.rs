//! The platform as separate processes, one per service, the way it runs in
//! production: `cartflow stack`. Each child is `cartflow serve <service>`, configured
//! through the environment only. Used by the benchmark (per-process CPU and memory)
//! and by fault tests that kill a process.

use anyhow::Context;
use cartflow_events::Service;
use cartflow_kit::Env;
use cartflow_kit::config::database_url_for;
use cartflow_kit::databases;
use cartflow_messaging::{PubSubConfig, provision};
use cartflow_platform::SERVICES;
use cartflow_platform::gateway::GatewaySandbox;
use cartflow_platform::logins;
use cartflow_platform::pusher::{self, Pusher};
use cartflow_platform::smtp_catcher::SmtpCatcher;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How to start the children. Its `Debug` hides the server URL's password and the
/// secrets among `env`.
#[derive(Clone)]
pub struct StackSettings {
    /// PostgreSQL server URL; each service gets its database on it.
    pub server_url: String,
    pub pubsub: PubSubConfig,
    /// Extra environment for every child (e.g. `RUST_LOG`, pool sizes).
    pub env: Env,
    /// Each service signs in as its own login (`cartflow_platform::logins`).
    pub own_logins: bool,
    /// With push delivery: the stack pushes (`cartflow_platform::pusher`) with this
    /// many requests in flight per subscription, instead of the emulator's two.
    pub push_concurrency: Option<usize>,
}

impl std::fmt::Debug for StackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackSettings")
            .field("server_url", &cartflow_kit::redact::Url(&self.server_url))
            .field("pubsub", &self.pubsub)
            .field("env", &self.env)
            .field("own_logins", &self.own_logins)
            .field("push_concurrency", &self.push_concurrency)
            .finish()
    }
}

/// The service's own database, signed in as its own login.
fn own_database_url(server_url: &str, service: Service) -> anyhow::Result<String> {
    let login = logins::login_of("", service);
    let server_url = logins::signed_in_as(server_url, &login)?;
    database_url_for(&server_url, &service.database_name()).map_err(anyhow::Error::msg)
}

pub struct Stack {
    children: BTreeMap<Service, Child>,
    pub catcher: Option<SmtpCatcher>,
    pub gateway: Option<GatewaySandbox>,
    pusher: Option<Pusher>,
}

impl Stack {
    /// Creates the databases and topology, then starts every service as a child
    /// process on its SPEC port and waits until each answers `/ready`.
    pub async fn start(settings: &StackSettings) -> anyhow::Result<Stack> {
        for service in SERVICES {
            databases::ensure(&settings.server_url, &service.database_name()).await?;
            if settings.own_logins {
                logins::isolate(&settings.server_url, "", service).await?;
            }
        }
        provision::provision(&settings.pubsub)
            .await
            .context("provisioning the topology")?;
        // Push (`PUBSUB_DELIVERY=push`): each subscription pushes to its service's SPEC
        // port, from the emulator or from the stack's own pusher; pull (or the
        // pusher): make sure no push config is left from an earlier push run.
        let push = settings.env.get("PUBSUB_DELIVERY") == Some("push");
        anyhow::ensure!(
            push || settings.push_concurrency.is_none(),
            "a push concurrency needs push delivery (PUBSUB_DELIVERY=push)"
        );
        let endpoints: Vec<_> = SERVICES
            .iter()
            .map(|&s| (s, format!("http://127.0.0.1:{}", s.default_port())))
            .collect();
        let emulator_pushes = push && settings.push_concurrency.is_none();
        let configured: Vec<_> = endpoints
            .iter()
            .map(|(s, url)| {
                (
                    *s,
                    if emulator_pushes {
                        url.clone()
                    } else {
                        String::new()
                    },
                )
            })
            .collect();
        let push_path = cartflow_kit::push::PUSH_PATH;
        provision::set_push_endpoints(&settings.pubsub, &configured, push_path).await?;

        let mut env = settings.env.clone();
        let catcher = SmtpCatcher::unless_configured(&mut env).await?;
        // The payment provider: the sandbox on :12111 unless PAYMENT_PROVIDER_URL is set.
        let gateway = GatewaySandbox::unless_configured(&mut env).await?;
        env.set("DATABASE_URL", &settings.server_url)
            .set("PUBSUB_PROJECT_ID", &settings.pubsub.project_id)
            .set("CARTFLOW_TOPIC_PREFIX", &settings.pubsub.topic_prefix)
            .set(
                "PRODUCT_SERVICE_URL",
                format!("http://127.0.0.1:{}", Service::Product.default_port()),
            );
        if let Some(host) = &settings.pubsub.emulator_host {
            env.set("PUBSUB_EMULATOR_HOST", host);
        }
        let exe = std::env::current_exe().context("finding the cartflow binary")?;
        let mut stack = Stack {
            children: BTreeMap::new(),
            catcher,
            gateway,
            pusher: None,
        };
        for service in SERVICES {
            let own_login = match settings.own_logins {
                true => Some(own_database_url(&settings.server_url, service)?),
                false => None,
            };
            let child = Command::new(&exe)
                .args(["serve", service.name()])
                .envs(env.vars())
                .envs(own_login.map(|url| (format!("{}_DATABASE_URL", service.env_prefix()), url)))
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting {service}"))?;
            stack.children.insert(service, child);
        }
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        for service in SERVICES {
            let url = format!("http://127.0.0.1:{}/ready", service.default_port());
            loop {
                if let Some(status) = stack.children.get_mut(&service).unwrap().try_wait()? {
                    stack.stop().await;
                    anyhow::bail!("{service} exited during start-up ({status})");
                }
                let ready = http
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    break;
                }
                if Instant::now() > deadline {
                    stack.stop().await;
                    anyhow::bail!("{service} was not ready within 60 s ({url})");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if let Some(concurrency) = settings.push_concurrency {
            let routes = pusher::routes(&settings.pubsub, &endpoints, push_path);
            match Pusher::start(&settings.pubsub, routes, concurrency).await {
                Ok(pusher) => stack.pusher = Some(pusher),
                Err(err) => {
                    stack.stop().await;
                    return Err(err.context("starting the pusher"));
                }
            }
        }
        Ok(stack)
    }

    pub fn pids(&self) -> BTreeMap<Service, Option<u32>> {
        self.children.iter().map(|(s, c)| (*s, c.id())).collect()
    }

    /// Stops the pusher (its pushes in flight are answered first), then SIGTERM to
    /// every child, then waits (up to 30 s each) for them to finish.
    pub async fn stop(&mut self) {
        if let Some(pusher) = self.pusher.take() {
            pusher.stop().await;
        }
        for child in self.children.values() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
        }
        for (service, child) in &mut self.children {
            match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => tracing::warn!(%service, %status, "exited with an error"),
                _ => {
                    tracing::warn!(%service, "did not stop in 30 s; killing it");
                    let _ = child.kill().await;
                }
            }
        }
    }
}

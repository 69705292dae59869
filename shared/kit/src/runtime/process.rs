//! A service as a process: its `main` (settings from the environment, logs, run until
//! a signal, exit codes) and `healthcheck` for images without a shell.

use super::{ServiceApp, start};
use crate::config::{ConfigError, Env, ServiceConfig};
use crate::telemetry;
use cartflow_events::Service;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// A token cancelled on SIGINT (Ctrl-C) or SIGTERM (Cloud Run, systemd, Kubernetes).
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        // Cancel before logging: nothing that can fail may stand between a signal and
        // the shutdown it asks for.
        trigger.cancel();
        tracing::info!("shutdown requested; finishing in-flight work");
    });
    token
}

/// The whole `main` of a service binary: configuration from the environment, logs,
/// run until a signal. A bad setting exits with status 2 and names the variable.
///
/// `<binary> healthcheck` asks the running service's `/ready` instead (for container
/// health checks in images without a shell or curl); `--help` explains both.
pub async fn main<A: ServiceApp>(build: impl FnOnce(&Env) -> Result<A, ConfigError>) -> ExitCode {
    let env = Env::from_process();
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("healthcheck") => return healthcheck(A::SERVICE, &env).await,
        Some("-h" | "--help") => {
            println!(
                "{service}: the cartflow {service} service.\n\n\
                 Usage: {service}-service [healthcheck]\n\n\
                 Without arguments, runs the service until SIGINT/SIGTERM. Settings come from\n\
                 environment variables (see docs/configuration.md), e.g. PORT,\n\
                 DATABASE_URL, PUBSUB_EMULATOR_HOST, PUBSUB_PROJECT_ID, PUBSUB_DELIVERY, LOG_FORMAT.\n\n\
                 healthcheck  GET /ready on the local port; exit 0 when ready, 1 otherwise.",
                service = A::SERVICE
            );
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("{}: unknown argument '{other}' (try --help)", A::SERVICE);
            return ExitCode::from(2);
        }
    }
    serve(env, build).await
}

/// Runs one service from `env` until SIGINT/SIGTERM: what a service binary does with
/// no arguments, and what `cartflow serve <service>` does.
pub async fn serve<A: ServiceApp>(
    env: Env,
    build: impl FnOnce(&Env) -> Result<A, ConfigError>,
) -> ExitCode {
    if let Err(err) = telemetry::init(A::SERVICE.name()) {
        eprintln!("{}: {err}", A::SERVICE);
        return ExitCode::from(2);
    }
    let configured = ServiceConfig::from_env(A::SERVICE, &env).and_then(|c| Ok((c, build(&env)?)));
    let (config, app) = match configured {
        Ok(parts) => parts,
        Err(err) => {
            eprintln!("{}: {err}", A::SERVICE);
            return ExitCode::from(2);
        }
    };
    let shutdown = shutdown_on_signal();
    let result = async { start(app, config, shutdown).await?.stopped().await }.await;
    telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(service = %A::SERVICE, error = format!("{err:#}"), "service failed");
            ExitCode::FAILURE
        }
    }
}

/// Exit 0 if the service listening on this container's port answers `/ready` with 200.
async fn healthcheck(service: Service, env: &Env) -> ExitCode {
    let config = match ServiceConfig::from_env(service, env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{service}: {err}");
            return ExitCode::from(2);
        }
    };
    let url = format!("http://127.0.0.1:{}/ready", config.port);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build();
    let answer = match client {
        Ok(client) => client.get(&url).send().await,
        Err(err) => Err(err),
    };
    match answer {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("{service}: {url} answered {}", response.status());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("{service}: {url}: {err}");
            ExitCode::FAILURE
        }
    }
}

//! `cartflow dev`: every service in this process, demo data, and a walk-through.

use super::args::Target;
use crate::console::ConsoleSettings;
use crate::seed;
use crate::walkthrough;
use anyhow::Context;
use cartflow_events::Service;
use cartflow_kit::Env;
use cartflow_messaging::{PubSubConfig, provision};
use cartflow_platform::gateway::GatewaySandbox;
use cartflow_platform::smtp_catcher::SmtpCatcher;
use cartflow_platform::{Platform, PlatformSettings, SERVICES};

/// The mail catcher's view.
const MAIL_VIEW: &str = "http://127.0.0.1:8025";

pub async fn run(
    target: Target,
    seed_demo: bool,
    console_addr: std::net::SocketAddr,
    own_logins: bool,
) -> anyhow::Result<()> {
    let pubsub = target.pubsub();
    let topics = pubsub.topic_admin().await?;
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        provision::ping(&pubsub, &topics),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))
    .and_then(|r| r)
    .with_context(|| match &pubsub.emulator_host {
        Some(host) => {
            format!("no Pub/Sub emulator answers at {host}; start one with scripts/dev.sh")
        }
        None => {
            "Pub/Sub is not reachable (PUBSUB_EMULATOR_HOST is unset, so Google Cloud was tried)"
                .into()
        }
    })?;

    // Signals are handled from here on: scripts/dev.sh runs this in the background and
    // forwards Ctrl-C, which would be ignored until a handler is installed.
    let stop = cartflow_kit::runtime::shutdown_on_signal();
    let mut env = Env::from_process();
    // A mail catcher (with its view on :8025) unless SMTP_HOST names a real server.
    let catcher = SmtpCatcher::unless_configured(&mut env).await?;
    if let Some(catcher) = &catcher {
        let view = tokio::net::TcpListener::bind(MAIL_VIEW.trim_start_matches("http://"))
            .await
            .context("binding the mail view on 127.0.0.1:8025")?;
        let router = catcher.router();
        tokio::spawn(async move { axum::serve(view, router).await });
    }
    // The payment provider: the sandbox on :12111 unless PAYMENT_PROVIDER_URL is set.
    let _gateway = GatewaySandbox::unless_configured(&mut env).await?;
    let settings = PlatformSettings {
        server_url: target.database_url().to_string(),
        database_prefix: String::new(),
        pubsub: pubsub.clone(),
        port_override: None,
        env,
        own_logins,
    };
    let platform = Platform::start(&settings).await?;
    if seed_demo {
        let people = seed::seed_customers(&platform.url(Service::Customer)).await?;
        let stock = seed::seed_catalog(
            &platform.url(Service::Product),
            &platform.url(Service::Inventory),
        )
        .await?;
        tracing::info!(
            created = people.created + stock.created,
            already_there = people.already_there + stock.already_there,
            "demo customers and catalog loaded"
        );
    }
    let console_url =
        serve_console(&platform, &settings, catcher.is_some(), console_addr, &stop).await?;
    print_banner(&platform, &pubsub, catcher.is_some(), &console_url);

    stop.cancelled().await;
    platform.stop().await
}

/// The web console on `addr`, showing this process's services; stops with `stop`.
async fn serve_console(
    platform: &Platform,
    settings: &PlatformSettings,
    catching_mail: bool,
    addr: std::net::SocketAddr,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("binding the console on {addr} (choose another with --console-addr)")
    })?;
    let url = format!("http://{}", listener.local_addr()?);
    let console_settings = ConsoleSettings {
        services: SERVICES.iter().map(|&s| (s, platform.url(s))).collect(),
        mail_view: catching_mail.then(|| MAIL_VIEW.to_string()),
        databases: crate::events::Databases {
            server_url: settings.server_url.clone(),
            prefix: settings.database_prefix.clone(),
        },
        refresh: std::time::Duration::from_secs(1),
        public_url: None,
        operators: crate::console::Operators::local_from_env(),
    };
    tokio::spawn(crate::console::serve(
        listener,
        console_settings,
        stop.child_token(),
    ));
    Ok(url)
}

fn print_banner(platform: &Platform, pubsub: &PubSubConfig, catching_mail: bool, console: &str) {
    let url = |s| platform.url(s);
    println!("\ncartflow is running.\n");
    println!(
        "  Console: {console}  (live overview, topology, checkout explorer, dead letters, storefront)\n"
    );
    for service in SERVICES {
        println!(
            "  {:<13} {:<24} readiness: {1}/ready",
            service.name(),
            url(service)
        );
    }
    let walkthrough = walkthrough::render(url, catching_mail.then_some(MAIL_VIEW));
    println!("\nWalk-through (copy and paste):\n\n{walkthrough}");
    if catching_mail {
        println!(
            "Mail catcher: SMTP on 127.0.0.1:1025; what it caught: curl -s http://127.0.0.1:8025/messages\n"
        );
    }
    if let Some(host) = &pubsub.emulator_host {
        println!(
            "Inspect Pub/Sub on the emulator:\n  export CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=http://{host}/ CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true CLOUDSDK_CORE_PROJECT={}\n  gcloud pubsub topics list\n  gcloud pubsub subscriptions list\n",
            pubsub.project_id
        );
    }
    println!("Press Ctrl-C to stop.");
}

//! `cartflow console`: the web console on its own, against any running stack.

use super::args::DatabaseArgs;
use crate::console::{self, ConsoleSettings, Operators};
use anyhow::Context;
use cartflow_events::Service;
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Args)]
pub struct ConsoleArgs {
    /// Address to serve the console on.
    #[arg(long, env = "CONSOLE_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A service's base URL, as `<service>=<url>` (repeatable, or comma-separated in
    /// CONSOLE_SERVICE_URLS); the others are on their SPEC ports on 127.0.0.1.
    #[arg(long = "service-url", env = "CONSOLE_SERVICE_URLS", value_delimiter = ',', value_parser = parse_service_url)]
    pub service_urls: Vec<(Service, String)>,
    /// The local mail catcher's view (e.g. http://127.0.0.1:8025); without it the
    /// storefront shows email-push's record of sent emails.
    #[arg(long, env = "CONSOLE_MAIL_VIEW")]
    pub mail_view: Option<String>,
    /// The console's URL as browsers reach it, when not its listening address (a proxy,
    /// a port mapping): its host is allowed in `Host`; https marks the cookie `Secure`.
    #[arg(long, env = "CONSOLE_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// Operators of a shared console, as `name=token` (repeatable, or comma-separated
    /// in CONSOLE_OPERATORS); each signs in with their own token. Unset: the console
    /// is one person's (CONSOLE_OPERATOR, else the OS user), who signs in with the
    /// admin token.
    #[arg(
        long = "operator-account",
        env = "CONSOLE_OPERATORS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub operator_accounts: Vec<String>,
    /// The services' admin token, held by a shared console (with CONSOLE_OPERATORS).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    #[command(flatten)]
    pub databases: DatabaseArgs,
}

fn parse_service_url(raw: &str) -> Result<(Service, String), String> {
    let (name, url) = raw.split_once('=').ok_or_else(|| {
        format!("'{raw}' is not <service>=<url>, e.g. cart=http://127.0.0.1:3005")
    })?;
    let service: Service = name.trim().parse()?;
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "the URL of {service} must start with http:// or https://: '{url}'"
        ));
    }
    Ok((service, url.to_string()))
}

impl ConsoleArgs {
    pub fn settings(&self) -> anyhow::Result<ConsoleSettings> {
        let mut services: BTreeMap<Service, String> = ConsoleSettings::default_urls("127.0.0.1");
        services.extend(self.service_urls.iter().cloned());
        let operators = if self.operator_accounts.is_empty() {
            Operators::local_from_env()
        } else {
            Operators::accounts(self.admin_token.clone(), &self.operator_accounts)
                .map_err(anyhow::Error::msg)?
        };
        Ok(ConsoleSettings {
            services,
            mail_view: self.mail_view.clone(),
            databases: self.databases.databases(),
            refresh: Duration::from_secs(1),
            public_url: self.public_url.clone(),
            operators,
        })
    }
}

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the console on {}", args.listen))?;
    println!("cartflow console: http://{}", listener.local_addr()?);
    let stop = cartflow_kit::runtime::shutdown_on_signal();
    console::serve(listener, args.settings()?, stop).await
}

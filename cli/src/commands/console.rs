//! `cartflow console`: the web console on its own, against any running stack.

use super::args::{DatabaseArgs, parse_service_url};
use crate::console::{self, ConsoleSettings, Operators};
use anyhow::Context;
use cartflow_events::Service;
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Args)]
pub struct ConsoleArgs {
    /// Address of the web console.
    #[arg(long, env = "CONSOLE_ADDR", default_value = "127.0.0.1:8080")]
    pub console_addr: SocketAddr,
    /// A service's base URL, as `<service>=<url>` (repeatable, or comma-separated in
    /// CONSOLE_SERVICE_URLS); the others are on their own ports on 127.0.0.1 (order
    /// 3000, product 3001, inventory 3002, notification 3003, email-push 3004, cart
    /// 3005, customer 3006, payment 3007).
    #[arg(long = "service-url", value_name = "SERVICE=URL", env = "CONSOLE_SERVICE_URLS", value_delimiter = ',', value_parser = parse_service_url)]
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
    let listener = tokio::net::TcpListener::bind(args.console_addr)
        .await
        .with_context(|| format!("binding the console on {}", args.console_addr))?;
    println!("cartflow console: http://{}", listener.local_addr()?);
    let stop = cartflow_kit::runtime::shutdown_on_signal();
    console::serve(listener, args.settings()?, stop).await
}

//! `cartflow dev`: every service in this process, demo data, and a walk-through.

use super::args::Target;
use crate::platform::{Platform, PlatformSettings, SERVICES};
use crate::seed;
use crate::smtp_catcher::SmtpCatcher;
use anyhow::Context;
use cartflow_events::Service;
use cartflow_kit::Env;
use cartflow_messaging::{PubSubConfig, provision};

pub async fn run(target: Target, seed_demo: bool) -> anyhow::Result<()> {
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

    let mut env = Env::from_process();
    // A mail catcher (with its view on :8025) unless SMTP_HOST names a real server.
    let catcher = SmtpCatcher::unless_configured(&mut env).await?;
    if let Some(catcher) = &catcher {
        let view = tokio::net::TcpListener::bind(("127.0.0.1", 8025))
            .await
            .context("binding the mail view on 127.0.0.1:8025")?;
        let router = catcher.router();
        tokio::spawn(async move { axum::serve(view, router).await });
    }
    let settings = PlatformSettings {
        server_url: target.database_url().to_string(),
        database_prefix: String::new(),
        pubsub: pubsub.clone(),
        port_override: None,
        env,
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
    print_banner(&platform, &pubsub, catcher.is_some());

    cartflow_kit::runtime::shutdown_on_signal()
        .cancelled()
        .await;
    platform.stop().await
}

fn print_banner(platform: &Platform, pubsub: &PubSubConfig, catching_mail: bool) {
    let url = |s| platform.url(s);
    let (cart, order, inventory) = (
        url(Service::Cart),
        url(Service::Order),
        url(Service::Inventory),
    );
    let customer = seed::CUSTOMERS[0].0;
    let other = seed::CUSTOMERS[1].0;
    println!("\ncartflow is running.\n");
    for service in SERVICES {
        println!(
            "  {:<13} {:<24} readiness: {1}/ready",
            service.name(),
            url(service)
        );
    }
    println!(
        r#"
Walk-through (copy and paste):

  # 1. Two lines into {name}'s cart, then check out
  curl -s -X POST {cart}/cart/items -H 'X-Customer-Id: {customer}' -H 'Content-Type: application/json' -d '{{"product_sku":"KB-101","quantity":1}}'
  curl -s -X POST {cart}/cart/items -H 'X-Customer-Id: {customer}' -H 'Content-Type: application/json' -d '{{"product_sku":"MS-201","quantity":2}}'
  curl -s -X POST {cart}/cart/convert-to-order -H 'X-Customer-Id: {customer}'
  sleep 1   # the saga takes ~0.1 s
  curl -s {cart}/cart -H 'X-Customer-Id: {customer}'          # status: converted, with order_id
  curl -s "{order}/orders?customer_id={customer}"              # status: confirmed
  curl -s {inventory}/inventory/KB-101                          # quantity went down

  # 2. More lamps than there are: the checkout ends stock_unavailable
  curl -s -X POST {cart}/cart/items -H 'X-Customer-Id: {other}' -H 'Content-Type: application/json' -d '{{"product_sku":"LP-601","quantity":5}}'
  curl -s -X POST {cart}/cart/convert-to-order -H 'X-Customer-Id: {other}'
  sleep 1
  curl -s {cart}/cart -H 'X-Customer-Id: {other}'             # status: stock_unavailable, with details

  # 3. Cancel the first order: stock comes back (a second cancel is 409)
  ORDER=$(curl -s "{order}/orders?customer_id={customer}" | sed -n 's/^\[{{"id":"\([^"]*\)".*/\1/p')
  curl -s -X POST {order}/orders/$ORDER/cancel -H 'Content-Type: application/json' -d '{{"reason":"changed my mind"}}'

  # 4. What the customer was told: notifications, emails, pushes (live: the stream)
  curl -s "{notification}/notifications?customer_id={customer}"
  curl -s "{email_push}/emails?to={email}"
  curl -s {email_push}/push/{customer}
  curl -N {email_push}/push/{customer}/stream                 # leave open, check out again in another terminal
"#,
        name = seed::CUSTOMERS[0].1,
        email = seed::CUSTOMERS[0].2,
        notification = url(Service::Notification),
        email_push = url(Service::EmailPush),
    );
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

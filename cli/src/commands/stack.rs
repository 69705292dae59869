//! `cartflow stack`: every service as its own process.

use super::args::Target;
use cartflow_kit::Env;

pub async fn run(
    target: Target,
    own_logins: bool,
    push_concurrency: Option<usize>,
) -> anyhow::Result<()> {
    // Listening for Ctrl-C and SIGTERM before anything starts: a script that starts the
    // stack in the background (where SIGINT is ignored until a handler is installed)
    // may stop it as soon as it says it is running.
    let shutdown = cartflow_kit::runtime::shutdown_on_signal();
    let settings = crate::stack::StackSettings {
        server_url: target.database_url().to_string(),
        own_logins,
        push_concurrency,
        pubsub: target.pubsub(),
        // The services inherit this environment anyway; the stack reads it too
        // (`PUBSUB_DELIVERY=push` routes every subscription to its service).
        env: Env::from_process(),
    };
    let mut stack = crate::stack::Stack::start(&settings).await?;
    println!("cartflow stack is running, one process per service:");
    for (service, pid) in stack.pids() {
        println!(
            "  {:<13} http://127.0.0.1:{}  pid {}",
            service.name(),
            service.default_port(),
            pid.map_or("-".into(), |p| p.to_string())
        );
    }
    if let Some(n) = push_concurrency {
        println!("  the stack pushes every subscription, {n} requests in flight per subscription");
    }
    println!("Ctrl-C stops them all.");
    shutdown.cancelled().await;
    stack.stop().await;
    Ok(())
}

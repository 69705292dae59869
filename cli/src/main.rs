//! `cartflow`: run and operate the platform locally. Each command lives in
//! `cartflow::commands`; this parses and dispatches.

use cartflow::commands::{Cli, Command};
use cartflow_kit::{Env, telemetry};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let command = Cli::parse().command;
    if let Command::Serve { service } = command {
        return cartflow::platform::serve(service, Env::from_process()).await;
    }
    match command.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

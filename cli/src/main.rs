//! `cartflow`: run and operate the platform locally. Each command lives in
//! `cartflow::commands`; this parses and dispatches.

use cartflow::commands::{Cli, Command};
use cartflow_kit::{Env, telemetry};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command;
    if let Command::Serve { service } = command {
        // The service sets up its own logs and traces, under its own name.
        return cartflow_platform::serve(service, Env::from_process()).await;
    }
    if let Err(err) = telemetry::init("cartflow") {
        eprintln!("error: {err}");
        return ExitCode::from(2);
    }
    let result = command.run().await;
    telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

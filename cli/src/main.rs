//! `cartflow`: run and operate the platform locally. Each command lives in
//! `cartflow::commands`; this parses and dispatches, and turns the outcome into an
//! exit code (`cartflow::commands::exit`).

use cartflow::commands::{Cli, Command, exit, output};
use cartflow_kit::{Env, telemetry};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let Cli {
        command,
        quiet,
        verbose,
    } = Cli::parse();
    if let Command::Serve { service } = command {
        // The service sets up its own logs and traces, under its own name.
        return cartflow_platform::serve(service, Env::from_process()).await;
    }
    output::set_quiet(quiet);
    let tracing = telemetry::TracingSettings::from_env("cartflow", |name| std::env::var(name).ok());
    let installed = tracing.and_then(|tracing| {
        telemetry::install(&output::log_filter(quiet, verbose), tracing)
            .map_err(|err| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {err}"))
    });
    if let Err(err) = installed {
        eprintln!("error: {err}");
        return ExitCode::from(exit::CONFIGURATION);
    }
    let result = command.run().await;
    telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::code_of(&err))
        }
    }
}

//! `latchkey`: the server and its command line.

use clap::Parser;
use server::cli::Cli;
use server::commands;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // A usage error exits 2 with clap's message; `--help` and `--version` exit 0.
    let command = Cli::parse().into_command();
    match commands::run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes, without a backtrace.
            eprintln!("latchkey: {error:#}");
            ExitCode::FAILURE
        }
    }
}

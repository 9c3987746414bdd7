//! `latchkey`: the server and its command line.

use app::server::config::Config;
use server::cli::{self, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match Command::parse(&args) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    if command == Command::Help {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    if command == Command::Precompress {
        return match server::precompress_site() {
            Ok(files) => {
                println!("compressed {files} files (brotli, gzip)");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("latchkey: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let result = async {
        let config = Config::from_env()?;
        if command == Command::Serve {
            server::init_tracing();
            server::serve(config).await
        } else {
            cli::run(command, &config).await
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey: {error:#}");
            ExitCode::FAILURE
        }
    }
}

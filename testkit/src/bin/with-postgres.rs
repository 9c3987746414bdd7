//! `with-postgres COMMAND [ARGS…]`: runs COMMAND with a throwaway PostgreSQL cluster
//! (see `testkit::postgres`) and `LATCHKEY_TEST_POSTGRES` naming its server, then stops
//! the cluster and deletes it, whether COMMAND passed, failed or was interrupted (Ctrl-C
//! and SIGTERM reach COMMAND, which ends, and then the cluster is removed). Exits with
//! COMMAND's status.
//!
//! `make test` runs the integration suite a second time this way: each test then makes a
//! database of its own on the cluster (`server/tests/api/helpers.rs`).

use std::process::{ExitCode, ExitStatus};
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: with-postgres COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    // The suite builds a server (two pools) per test, and a finished test's server lives
    // on with the process: room for all of their connections.
    let cluster = match testkit::postgres::Cluster::start_with(&[
        ("fsync", "off"),
        ("max_connections", "1000"),
    ]) {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("with-postgres: starting PostgreSQL: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "with-postgres: PostgreSQL on 127.0.0.1:{} (removed when {program} ends)",
        cluster.port()
    );
    let status = run(&program, args.collect(), &cluster.url("postgres"));
    drop(cluster);
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("with-postgres: {program} failed ({status})");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("with-postgres: running {program}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command to its end. Ctrl-C reaches it directly (one process group) and this
/// process waits for it; a SIGTERM sent to this process alone ends it too.
fn run(program: &str, args: Vec<String>, url: &str) -> std::io::Result<ExitStatus> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut interrupt = signal(SignalKind::interrupt())?;
            let mut terminate = signal(SignalKind::terminate())?;
            let mut child = tokio::process::Command::new(program)
                .args(args)
                .env("LATCHKEY_TEST_POSTGRES", url)
                .spawn()?;
            loop {
                tokio::select! {
                    status = child.wait() => return status,
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => child.start_kill()?,
                }
            }
        })
}

//! PostgreSQL: connecting and migrating (`migrations/postgres/`). The foundation of a
//! second database engine; the stores still speak SQLite only, so nothing serves from
//! PostgreSQL yet.
//!
//! Several Latchkey instances may share one database and start at the same moment: the
//! migrator holds a PostgreSQL advisory lock (keyed by the database's name) while it
//! checks and applies migrations, so one instance migrates and the others wait, then find
//! nothing left to do.

use anyhow::{Context, Result};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

#[cfg(test)]
mod parity;
#[cfg(test)]
mod tests;

/// The PostgreSQL schema's migrations (`migrations/postgres/`), built into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Connects to the PostgreSQL database at `url` (`postgres://` or `postgresql://`) with a
/// pool of up to `max_connections`, where waiting for a free connection gives up after
/// `acquire_timeout`, and brings its schema up to date before answering.
///
/// Errors name the host, port and database, never the URL itself (it may hold a password).
pub async fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> Result<PgPool> {
    anyhow::ensure!(
        is_postgres_url(url),
        "a PostgreSQL URL starts with postgres:// or postgresql://"
    );
    let options = PgConnectOptions::from_str(url).context("parsing the PostgreSQL URL")?;
    let place = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(the user's database)")
    );
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {place}"))?;
    if let Err(error) = MIGRATOR.run(&pool).await {
        // A failed migration leaves its connection holding the migrator's lock: closing
        // the pool ends it, and the lock with it.
        pool.close().await;
        return Err(error).with_context(|| format!("migrating the PostgreSQL database {place}"));
    }
    Ok(pool)
}

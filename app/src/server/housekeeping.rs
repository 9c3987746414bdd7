//! The periodic sweep: ends sessions past their idle or absolute limit, forgets ended
//! sessions and the token hashes of long-dead links once the retention period is over,
//! and deletes outbox files older than the outbox retention.
//!
//! Requests never rely on it (every request checks its session's limits itself); it
//! keeps the tables small and limits what a copy of the database file (or of the outbox)
//! would reveal.

use super::config::Config;
use super::db::{begin_write, Engine};
use super::store::{gate, links, sessions};
use super::{files, now};
use sqlx::AnyPool;
use std::sync::Arc;
use std::time::Duration;

/// How often the sweep runs.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// How many of the newest rows of the gate's change log a sweep keeps.
const KEEP_GATE_CHANGES: i64 = 10_000;

/// What one sweep changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions_ended: u64,
    pub sessions_forgotten: u64,
    pub token_hashes_forgotten: u64,
}

/// Sweeps as of unix time `at`, in one transaction.
pub async fn sweep(pool: &AnyPool, config: &Config, at: i64) -> sqlx::Result<Swept> {
    let retention = config.dead_link_retention.as_secs() as i64;
    let mut tx = begin_write(pool).await?;
    let sessions_ended = sessions::end_past_limits(
        &mut tx,
        at,
        config.coworker_idle_timeout.as_secs() as i64,
        config.invitee_idle_timeout.as_secs() as i64,
    )
    .await?;
    let sessions_forgotten = sessions::forget_ended(&mut tx, at - retention).await?;
    let token_hashes_forgotten = links::forget_dead_token_hashes(&mut tx, at - retention).await?;
    if Engine::of(pool) == Engine::Sqlite {
        // Serving processes read the gate's change log before every decision; one that
        // finds rows missing forgets everything, so only a long-idle one ever does.
        let last = gate::last_change(&mut *tx).await?;
        gate::forget_changes(&mut tx, last - KEEP_GATE_CHANGES).await?;
    }
    tx.commit().await?;
    Ok(Swept {
        sessions_ended,
        sessions_forgotten,
        token_hashes_forgotten,
    })
}

/// Sweeps every [`INTERVAL`] through `writer` until it is closed; prunes the outbox when
/// mail goes there (its files carry links: none outlives the longest link, by default).
pub async fn run(writer: AnyPool, config: Arc<Config>) {
    let mut every = tokio::time::interval(INTERVAL);
    loop {
        every.tick().await;
        match sweep(&writer, &config, now()).await {
            Ok(swept) => tracing::debug!(?swept, "housekeeping"),
            Err(error) => tracing::warn!(%error, "housekeeping failed; trying again later"),
        }
        if config.smtp_url.is_none() {
            let (dir, retention) = (config.outbox_dir.clone(), config.outbox_retention);
            match tokio::task::spawn_blocking(move || files::prune_outbox(&dir, retention)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(pruned)) => tracing::info!(pruned, "old outbox files deleted"),
                Ok(Err(error)) => tracing::warn!(%error, "pruning the outbox failed"),
                Err(error) => tracing::warn!(%error, "pruning the outbox stopped"),
            }
        }
        if writer.is_closed() {
            break;
        }
    }
}

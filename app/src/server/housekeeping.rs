//! The periodic sweep: ends sessions past their idle or absolute limit, forgets ended
//! sessions and the token hashes of long-dead links once the retention period is over.
//!
//! Requests never rely on it (every request checks its session's limits itself); it
//! keeps the tables small and limits what a copy of the database file would reveal.

use super::config::Config;
use super::db::begin_write;
use sqlx::SqlitePool;

/// What one sweep changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions_ended: u64,
    pub sessions_forgotten: u64,
    pub token_hashes_forgotten: u64,
}

/// Sweeps as of unix time `at`, in one transaction.
pub async fn sweep(pool: &SqlitePool, config: &Config, at: i64) -> sqlx::Result<Swept> {
    let retention = config.dead_link_retention.as_secs() as i64;
    let mut tx = begin_write(pool).await?;
    let sessions_ended = sqlx::query(
        "UPDATE auth_sessions SET ended_at = ?1, end_reason = 'expired'
         WHERE ended_at IS NULL
           AND (expires_at <= ?1
                OR last_seen_at + CASE WHEN coworker_id IS NOT NULL THEN ?2 ELSE ?3 END <= ?1)",
    )
    .bind(at)
    .bind(config.coworker_idle_timeout.as_secs() as i64)
    .bind(config.invitee_idle_timeout.as_secs() as i64)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let sessions_forgotten =
        sqlx::query("DELETE FROM auth_sessions WHERE ended_at IS NOT NULL AND ended_at <= ?1")
            .bind(at - retention)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    // A link dies when it is used, revoked or expires, whichever comes first.
    let token_hashes_forgotten = sqlx::query(
        "UPDATE magic_links SET token_hash = NULL
         WHERE token_hash IS NOT NULL
           AND min(coalesce(redeemed_at, expires_at), coalesce(revoked_at, expires_at), expires_at)
               <= ?1",
    )
    .bind(at - retention)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Swept {
        sessions_ended,
        sessions_forgotten,
        token_hashes_forgotten,
    })
}

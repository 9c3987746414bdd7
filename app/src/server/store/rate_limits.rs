//! `rate_limits` (PostgreSQL only): the shared rate limits' state, one GCRA time per key
//! in unix milliseconds (see `limits`). Each check is one statement, so two instances
//! charging one key at the same moment are serialised by the row.

use sqlx::AnyPool;

/// Charges one request to `key` at `now` (ms), where each request uses `interval` ms of
/// a budget `window` ms long (the count allowed at once times the interval). Answers
/// `None` when it is allowed, or how many ms until it would be.
pub async fn charge(
    pool: &AnyPool,
    key: &str,
    now: i64,
    interval: i64,
    window: i64,
) -> sqlx::Result<Option<i64>> {
    let allowed: Option<i64> = sqlx::query_scalar(
        "INSERT INTO rate_limits (key, tat) VALUES ($1, $2 + $3)
         ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3
          WHERE GREATEST(rate_limits.tat, $2) + $3 <= $2 + $4
         RETURNING tat",
    )
    .bind(key)
    .bind(now)
    .bind(interval)
    .bind(window)
    .fetch_optional(pool)
    .await?;
    if allowed.is_some() {
        return Ok(None);
    }
    // Forgotten meanwhile, its budget full again: try again at once.
    let tat: Option<i64> = sqlx::query_scalar("SELECT tat FROM rate_limits WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(Some(
        tat.map_or(1, |tat| (tat + interval - (now + window)).max(1)),
    ))
}

/// Forgets the keys whose budget is full again at `now` (ms).
pub async fn forget_full(pool: &AnyPool, now: i64) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM rate_limits WHERE tat <= $1")
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
}

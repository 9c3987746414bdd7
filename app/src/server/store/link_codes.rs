//! The one-time code columns of `magic_links` (migration 0007): the live codes an address
//! may type, and the count of wrong tries.

use super::link_state::pending_sql;
use sqlx::{Any, AnyConnection, Executor};

/// Typing a code tries at most this many of an address's live codes, the newest first.
pub const MOST_CODES_PER_ADDRESS: i64 = 20;

/// A live link's code as stored: what a typed code is checked against.
#[derive(sqlx::FromRow)]
pub struct StoredCode {
    pub id: i64,
    pub token_hash: Vec<u8>,
    pub code_hash: Vec<u8>,
}

impl std::fmt::Debug for StoredCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredCode {{ id: {}, .. }}", self.id)
    }
}

/// The codes of `email`'s pending links at `at` that still take tries (fewer than
/// `most_failures` wrong ones). Assembled at compile time from fixed fragments only.
pub async fn live_codes<'e, E>(
    executor: E,
    email: &str,
    at: i64,
    most_failures: i64,
) -> sqlx::Result<Vec<StoredCode>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(concat!(
        "SELECT l.id, l.token_hash, l.code_hash FROM magic_links l
         WHERE l.recipient_email = $2 AND l.code_hash IS NOT NULL AND l.token_hash IS NOT NULL
           AND l.code_failures < $3 AND ",
        pending_sql!(),
        " ORDER BY l.id DESC LIMIT $4"
    ))
    .bind(at)
    .bind(email)
    .bind(most_failures)
    .bind(MOST_CODES_PER_ADDRESS)
    .fetch_all(executor)
    .await
}

/// Counts a wrong try against each of `ids` whose code still takes tries; answers each
/// counted link with its wrong tries so far.
pub async fn count_failure(
    conn: &mut AnyConnection,
    ids: &[i64],
    most_failures: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Assembled from fixed fragments only: one numbered parameter per id.
    let list = (2..ids.len() + 2)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE magic_links SET code_failures = code_failures + 1
         WHERE id IN ({list}) AND code_failures < $1
         RETURNING id, code_failures"
    );
    let mut query = sqlx::query_as(&sql).bind(most_failures);
    for &id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}

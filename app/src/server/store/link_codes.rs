//! The one-time code columns of `magic_links` (migration 0007): the live codes an address
//! may type, and the count of wrong tries.

use super::super::db::Engine;
use super::events::{truncate, MAX_USER_AGENT_BYTES, REPEAT_WINDOW_SECS};
use super::link_state::pending_sql;
use crate::model::codes::{CODE_LOCKED, WRONG_CODE};
use crate::model::events::EventKind;
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

/// An id no link has (ids start at 1): the one value of an id list that must match
/// nothing, so that an address without live codes runs the very statements an address
/// with codes runs (see `links::code`).
const NO_LINK: i64 = 0;

/// `ids`, or [`NO_LINK`] in place of none.
fn or_no_link(ids: &[i64]) -> Vec<i64> {
    if ids.is_empty() {
        vec![NO_LINK]
    } else {
        ids.to_vec()
    }
}

/// `$first, $first+1, …`, one numbered parameter per value. Fixed fragments only.
fn parameters(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Counts a wrong try against each of `ids` whose code still takes tries; answers each
/// counted link with its wrong tries so far. One statement, run for no ids too.
pub async fn count_failure(
    conn: &mut AnyConnection,
    ids: &[i64],
    most_failures: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    let ids = or_no_link(ids);
    let sql = format!(
        "UPDATE magic_links SET code_failures = code_failures + 1
         WHERE id IN ({}) AND code_failures < $1
         RETURNING id, code_failures",
        parameters(2, ids.len())
    );
    let mut query = sqlx::query_as(&sql).bind(most_failures);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}

/// Makes the transaction `conn` commit as one that wrote, whether it writes or not. On
/// PostgreSQL a transaction that changed nothing ends without a commit record in the
/// write-ahead log, and so sooner than one that counted a wrong try: an address without
/// codes would be answered sooner. (SQLite ends both alike, within the timing test's
/// tolerance.)
pub async fn commit_as_written(conn: &mut AnyConnection, engine: Engine) -> sqlx::Result<()> {
    if engine == Engine::Postgres {
        // The transaction id is what a commit record is written for; `txid_current`
        // assigns one, as a first write would.
        sqlx::query("SELECT 1 FROM (SELECT txid_current()) AS assigned")
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Who typed a wrong code, as its trail records them.
pub struct Typist<'a> {
    pub ip: String,
    pub network: String,
    pub user_agent: Option<&'a str>,
}

/// Records wrong tries on the trails of links `wrong` (a wrong try, folded like
/// `Event::record_repeatable` folds: into the same event from the same network within
/// `REPEAT_WINDOW_SECS`) and `locked` (the try that locked the code, a row of its own).
/// Always the same two statements, for no links too.
///
/// `record_repeatable`'s hourly cap on rows is not needed here: a code takes
/// `MAX_CODE_FAILURES` wrong tries in all, so these add at most that many rows to a
/// link's trail.
pub async fn record_wrong_tries(
    conn: &mut AnyConnection,
    wrong: &[i64],
    locked: &[i64],
    typist: &Typist<'_>,
    at: i64,
) -> sqlx::Result<()> {
    let kind = EventKind::RedeemRefused.code();
    let candidates = or_no_link(wrong);
    let fold = format!(
        "UPDATE link_events
            SET repeats = repeats + 1, last_at = CASE WHEN $1 > coalesce(last_at, at) THEN $1
                                                      ELSE coalesce(last_at, at) END
          WHERE id IN (SELECT max(e.id) FROM link_events e
                        WHERE e.link_id IN ({}) AND e.kind = $2 AND e.at > $3
                          AND e.network IS NOT DISTINCT FROM $4 AND e.detail = $5
                        GROUP BY e.link_id)
          RETURNING link_id",
        parameters(6, candidates.len())
    );
    let mut query = sqlx::query_scalar(&fold)
        .bind(at)
        .bind(kind)
        .bind(at - REPEAT_WINDOW_SECS)
        .bind(&typist.network)
        .bind(WRONG_CODE);
    for &id in &candidates {
        query = query.bind(id);
    }
    let folded: Vec<i64> = query.fetch_all(&mut *conn).await?;
    let new_rows: Vec<i64> = wrong
        .iter()
        .filter(|id| !folded.contains(id))
        .chain(locked)
        .copied()
        .collect();
    let new_rows = or_no_link(&new_rows);
    let locked = or_no_link(locked);
    let insert = format!(
        "INSERT INTO link_events (link_id, at, kind, ip, user_agent, detail, network)
         SELECT l.id, $1, $2, $3, $4,
                CASE WHEN l.id IN ({}) THEN $5 ELSE $6 END, $7
           FROM magic_links l WHERE l.id IN ({})",
        parameters(8, locked.len()),
        parameters(8 + locked.len(), new_rows.len())
    );
    let mut query = sqlx::query(&insert)
        .bind(at)
        .bind(kind)
        .bind(&typist.ip)
        .bind(
            typist
                .user_agent
                .map(|agent| truncate(agent, MAX_USER_AGENT_BYTES)),
        )
        .bind(CODE_LOCKED)
        .bind(WRONG_CODE)
        .bind(&typist.network);
    for id in locked.into_iter().chain(new_rows) {
        query = query.bind(id);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

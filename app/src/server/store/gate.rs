//! What the gate reads and writes: a session by its gate cookie's hash with everything a
//! decision needs, the change log a serving process follows on SQLite (`gate_changes`,
//! migration 0009), and the last-use times and reaches the gate writes behind.

use super::flag::Flag;
use sqlx::{Any, AnyConnection, Executor};

/// A session as the gate needs it, found by its gate cookie.
#[derive(Debug, sqlx::FromRow)]
pub struct GateSession {
    /// The `auth_sessions` id (the session layer's key) and its number (`rowid`, which
    /// change notices name).
    pub id: String,
    pub number: i64,
    pub coworker_id: Option<i64>,
    pub link_id: Option<i64>,
    pub expires_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub c_email: Option<String>,
    pub c_name: Option<String>,
    pub c_is_admin: Option<Flag>,
    pub c_deactivated_at: Option<i64>,
    pub l_email: Option<String>,
    pub l_name: Option<String>,
    pub l_revoked_at: Option<i64>,
    /// The applications its invitation opens and the ones it has reached, as
    /// comma-separated ids (`None` for none).
    pub opens: Option<String>,
    pub reached: Option<String>,
}

/// The session whose gate cookie hashes to `gate_hash`, ended or not. One query.
pub async fn find<'e, E>(executor: E, gate_hash: &[u8]) -> sqlx::Result<Option<GateSession>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(
        "SELECT s.id, s.rowid AS number, s.coworker_id, s.link_id, s.expires_at,
                s.last_seen_at, s.ended_at, s.end_reason,
                c.email AS c_email, c.name AS c_name, c.is_admin AS c_is_admin,
                c.deactivated_at AS c_deactivated_at,
                l.recipient_email AS l_email, l.recipient_name AS l_name,
                l.revoked_at AS l_revoked_at,
                (SELECT group_concat(CAST(la.application_id AS TEXT), ',')
                   FROM link_applications la WHERE la.link_id = s.link_id) AS opens,
                (SELECT group_concat(CAST(sa.application_id AS TEXT), ',')
                   FROM session_applications sa WHERE sa.session_id = s.id) AS reached
         FROM auth_sessions s
         LEFT JOIN coworkers c ON c.id = s.coworker_id
         LEFT JOIN magic_links l ON l.id = s.link_id
         WHERE s.gate_hash = $1",
    )
    .bind(gate_hash)
    .fetch_optional(executor)
    .await
}

/// The change log's rows after `after` (SQLite), oldest first: `(id, subject)`.
pub async fn changes_after<'e, E>(executor: E, after: i64) -> sqlx::Result<Vec<(i64, String)>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as("SELECT id, subject FROM gate_changes WHERE id > $1 ORDER BY id")
        .bind(after)
        .fetch_all(executor)
        .await
}

/// The newest change's id (0 for none): where a process that starts with an empty memory
/// begins following the log.
pub async fn last_change<'e, E>(executor: E) -> sqlx::Result<i64>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM gate_changes")
        .fetch_one(executor)
        .await
}

/// Forgets the change log's rows up to `up_to` (housekeeping keeps the recent ones for
/// processes that read the log a little behind).
pub async fn forget_changes(conn: &mut AnyConnection, up_to: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM gate_changes WHERE id <= $1")
        .bind(up_to)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Records that session `id` was last used at `at`, unless a later use is recorded.
pub async fn touch(conn: &mut AnyConnection, id: &str, at: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE auth_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await
        .map(drop)
}

/// Parses one of [`GateSession`]'s id lists.
pub fn ids(list: Option<&str>) -> Vec<i64> {
    list.unwrap_or_default()
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_are_read_from_either_engine() {
        assert_eq!(ids(None), Vec::<i64>::new());
        assert_eq!(ids(Some("3")), vec![3]);
        assert_eq!(ids(Some("1,20,3")), vec![1, 20, 3]);
    }
}

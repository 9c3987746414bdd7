//! The `auth_sessions` table: every write to it, and the reads that find a session.
//!
//! A session is opened by redeeming a link (`open_sql!`, the one insert), its use is
//! recorded by [`touch`], and it ends for one of the [`EndReason`]s, each written by one
//! function here. The link's trail learns of every end from a trigger (migration 0004).

use crate::model::sessions::LinkSession;
use crate::server::db::numbered;
use crate::server::group::Query;
use rand::rngs::OsRng;
use rand::TryRngCore;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::sync::OnceLock;

/// `last_seen_at` is written at most this often, to keep reads from becoming writes, and
/// at most every tenth of the idle limit, so a session used at shorter intervals than
/// nine tenths of that limit never goes idle (see [`touch_interval`]).
const TOUCH_INTERVAL_SECS: i64 = 60;

/// How long after its last recorded use a session's use is recorded again.
pub fn touch_interval(idle: std::time::Duration) -> i64 {
    TOUCH_INTERVAL_SECS.min(idle.as_secs() as i64 / 10)
}

/// Why a session ended, as `auth_sessions.end_reason` (and so the trail) records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its holder signed out.
    SignedOut,
    /// The browser signed in again, with another link.
    Replaced,
    /// Past its idle or absolute limit.
    Expired,
    /// A coworker revoked the invitation that opened it.
    LinkRevoked,
    /// A coworker ended it from the link's page.
    EndedByCoworker,
    /// Its coworker was removed.
    CoworkerDeactivated,
}

impl EndReason {
    /// The stored code; migration 0004's CHECK allows exactly these.
    pub fn code(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::Replaced => "replaced",
            Self::Expired => "expired",
            Self::LinkRevoked => "link_revoked",
            Self::EndedByCoworker => "ended_by_coworker",
            Self::CoworkerDeactivated => "coworker_deactivated",
        }
    }
}

/// A fresh `auth_sessions` id: 32 random bytes, hex.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// When the session a link opens ends, over that link's `magic_links` row (unqualified
/// columns, as an `UPDATE … RETURNING` can only name them): the redeem
/// time plus, for a coworker's sign-in link, the coworker session lifetime, and for an
/// invitation its own session lifetime (or the default), at most the longest allowed.
/// Binds four values in order: the redeem time, the coworker lifetime in seconds, the
/// invitee default in minutes, the invitee longest in seconds.
macro_rules! session_end_sql {
    () => {
        "? + CASE purpose WHEN 'signin' THEN ?
                          ELSE MIN(COALESCE(session_minutes, ?) * 60, ?) END"
    };
}
pub(crate) use session_end_sql;

/// Opens the session that link `token_hash`, redeemed at `redeemed_at` by the statement
/// just before this one in the same transaction, grants (read from `$from`: `magic_links`,
/// or what a PostgreSQL statement's redeem returned): a coworker's for a sign-in
/// link, an invitee's (whose insert puts `redeemed` on the trail, a trigger) for an
/// invitation. A batch adds ` AND changes() = 1`, so it runs only when that statement
/// changed a row. The only insert into `auth_sessions` (but for PostgreSQL's one-statement
/// redeem, `Redeem::ALONE`); bound by [`Opening::bind`].
macro_rules! open_sql {
    ($from:literal) => {
        concat!(
            "INSERT INTO auth_sessions
                    (id, coworker_id, link_id, created_at, last_seen_at, expires_at, user_agent, ip,
                     gate_hash)
             SELECT ?, CASE purpose WHEN 'signin' THEN coworker_id END,
                       CASE purpose WHEN 'invite' THEN id END, ?, ?, ",
            $crate::server::store::sessions::session_end_sql!(),
            ", ?, ?, ?
               FROM ",
            $from,
            " WHERE token_hash = ? AND redeemed_at = ?"
        )
    };
}
pub(crate) use open_sql;

/// The lifetimes `session_end_sql!` applies, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub coworker_secs: i64,
    pub invitee_default_minutes: i64,
    pub invitee_longest_secs: i64,
}

/// A session about to be opened by a redeem.
pub struct Opening {
    pub id: String,
    pub token_hash: Vec<u8>,
    pub at: i64,
    pub lifetimes: Lifetimes,
    pub user_agent: Option<String>,
    pub ip: String,
    /// The SHA-256 of the gate cookie's token (see [`crate::server::gate`]).
    pub gate_hash: Vec<u8>,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opening { .. }")
    }
}

impl Opening {
    /// Binds `session_end_sql!`'s values.
    pub fn bind_end<R>(&self, query: Query<R>) -> Query<R> {
        query
            .bind(self.at)
            .bind(self.lifetimes.coworker_secs)
            .bind(self.lifetimes.invitee_default_minutes)
            .bind(self.lifetimes.invitee_longest_secs)
    }

    /// Binds `open_sql!`'s values, in its order.
    pub fn bind<R>(self, query: Query<R>) -> Query<R> {
        let query = query.bind(self.id.clone()).bind(self.at).bind(self.at);
        self.bind_end(query)
            .bind(self.user_agent)
            .bind(self.ip)
            .bind(self.gate_hash)
            .bind(self.token_hash)
            .bind(self.at)
    }
}

/// Opens the session a redeem just won, inside the redeem's transaction; answers when it
/// ends (unix seconds), or `None` when the statement before changed nothing.
pub async fn open(conn: &mut AnyConnection, opening: Opening) -> sqlx::Result<Option<i64>> {
    static OPEN: OnceLock<String> = OnceLock::new();
    let sql =
        OPEN.get_or_init(|| numbered(concat!(open_sql!("magic_links"), " RETURNING expires_at")));
    let row: Option<(i64,)> = opening
        .bind(sqlx::query_as(sql))
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(ends_at,)| ends_at))
}

/// Records that session `id` was used at `at`.
pub async fn touch<'e, E>(executor: E, id: &str, at: i64) -> sqlx::Result<()>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query("UPDATE auth_sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(executor)
        .await
        .map(drop)
}

/// Ends session `id`, if it is live, for `reason` (one its holder or its limits caused);
/// answers its number when it was live.
pub async fn end<'e, E>(
    executor: E,
    id: &str,
    reason: EndReason,
    at: i64,
) -> sqlx::Result<Option<i64>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_scalar(
        "UPDATE auth_sessions SET ended_at = $2, end_reason = $3
         WHERE id = $1 AND ended_at IS NULL RETURNING rowid",
    )
    .bind(id)
    .bind(at)
    .bind(reason.code())
    .fetch_optional(executor)
    .await
}

/// Ends every live session link `link_id` opened, by coworker `by` revoking it; answers
/// how many.
pub async fn end_for_link(
    conn: &mut AnyConnection,
    link_id: i64,
    by: i64,
    at: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE auth_sessions SET ended_at = $2, end_reason = $4, ended_by = $3
         WHERE link_id = $1 AND ended_at IS NULL",
    )
    .bind(link_id)
    .bind(at)
    .bind(by)
    .bind(EndReason::LinkRevoked.code())
    .execute(conn)
    .await?
    .rows_affected())
}

/// Ends every live session of coworker `coworker_id`, who was removed (by admin `by`).
pub async fn end_for_coworker(
    conn: &mut AnyConnection,
    coworker_id: i64,
    by: Option<i64>,
    at: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE auth_sessions SET ended_at = $2, end_reason = $4, ended_by = $3
         WHERE coworker_id = $1 AND ended_at IS NULL",
    )
    .bind(coworker_id)
    .bind(at)
    .bind(by)
    .bind(EndReason::CoworkerDeactivated.code())
    .execute(conn)
    .await?
    .rows_affected())
}

/// What ending an invitee's session by its number did.
#[derive(Debug, PartialEq, Eq)]
pub enum Numbered {
    Ended,
    AlreadyEnded,
    /// No invitee session has this number.
    Unknown,
}

/// Ends the invitee session numbered `number` (its rowid, as a link's page lists it),
/// by coworker `by`.
pub async fn end_numbered(pool: &AnyPool, number: i64, by: i64, at: i64) -> sqlx::Result<Numbered> {
    let ended: Option<i64> = sqlx::query_scalar(
        "UPDATE auth_sessions SET ended_at = $2, end_reason = $4, ended_by = $3
         WHERE rowid = $1 AND link_id IS NOT NULL AND ended_at IS NULL RETURNING link_id",
    )
    .bind(number)
    .bind(at)
    .bind(by)
    .bind(EndReason::EndedByCoworker.code())
    .fetch_optional(pool)
    .await?;
    if ended.is_some() {
        return Ok(Numbered::Ended);
    }
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM auth_sessions WHERE rowid = $1 AND link_id IS NOT NULL")
            .bind(number)
            .fetch_optional(pool)
            .await?;
    Ok(match exists {
        Some(_) => Numbered::AlreadyEnded,
        None => Numbered::Unknown,
    })
}

/// Ends every live session past its absolute or idle limit as of `at`.
pub async fn end_past_limits(
    conn: &mut AnyConnection,
    at: i64,
    coworker_idle_secs: i64,
    invitee_idle_secs: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE auth_sessions SET ended_at = $1, end_reason = $4
         WHERE ended_at IS NULL
           AND (expires_at <= $1
                OR last_seen_at + CASE WHEN coworker_id IS NOT NULL THEN $2 ELSE $3 END <= $1)",
    )
    .bind(at)
    .bind(coworker_idle_secs)
    .bind(invitee_idle_secs)
    .bind(EndReason::Expired.code())
    .execute(conn)
    .await?
    .rows_affected())
}

/// Deletes sessions that ended at or before `before`.
pub async fn forget_ended(conn: &mut AnyConnection, before: i64) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM auth_sessions WHERE ended_at IS NOT NULL AND ended_at <= $1")
            .bind(before)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// A session with its holder: the coworker's row, or the invitation's and its issuer's.
#[derive(sqlx::FromRow)]
pub struct Found {
    pub coworker_id: Option<i64>,
    pub link_id: Option<i64>,
    pub expires_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    pub c_email: Option<String>,
    pub c_name: Option<String>,
    pub c_is_admin: Option<crate::server::store::flag::Flag>,
    pub c_created_at: Option<i64>,
    pub c_deactivated_at: Option<i64>,
    pub l_email: Option<String>,
    pub l_name: Option<String>,
    pub l_message: Option<String>,
    pub l_revoked_at: Option<i64>,
    pub i_email: Option<String>,
    pub i_name: Option<String>,
    /// Whether its invitation opens the application asked about.
    #[sqlx(try_from = "crate::server::store::flag::Flag")]
    pub opens_application: bool,
    /// Whether it has reached that application before.
    #[sqlx(try_from = "crate::server::store::flag::Flag")]
    pub reached_application: bool,
}

/// Session `id` with its holder, ended or not, and what it may do with application
/// `application` (none asked: both false). One query, for the gate's every request.
pub async fn find<'e, E>(
    executor: E,
    id: &str,
    application: Option<i64>,
) -> sqlx::Result<Option<Found>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(
        "SELECT s.coworker_id, s.link_id, s.expires_at, s.last_seen_at, s.ended_at,
                c.email AS c_email, c.name AS c_name, c.is_admin AS c_is_admin,
                c.created_at AS c_created_at, c.deactivated_at AS c_deactivated_at,
                l.recipient_email AS l_email, l.recipient_name AS l_name,
                l.message AS l_message, l.revoked_at AS l_revoked_at,
                i.email AS i_email, i.name AS i_name,
                EXISTS (SELECT 1 FROM link_applications la
                         WHERE la.link_id = s.link_id AND la.application_id = $2)
                    AS opens_application,
                EXISTS (SELECT 1 FROM session_applications sa
                         WHERE sa.session_id = s.id AND sa.application_id = $2)
                    AS reached_application
         FROM auth_sessions s
         LEFT JOIN coworkers c ON c.id = s.coworker_id
         LEFT JOIN magic_links l ON l.id = s.link_id
         LEFT JOIN coworkers i ON i.id = l.coworker_id
         WHERE s.id = $1",
    )
    .bind(id)
    .bind(application)
    .fetch_optional(executor)
    .await
}

/// The sessions link `link_id` opened, newest first.
pub async fn of_link<'e, E>(executor: E, link_id: i64) -> sqlx::Result<Vec<LinkSession>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(
        "SELECT rowid AS number, created_at AS started_at, last_seen_at, expires_at, ended_at,
                user_agent, ip
         FROM auth_sessions WHERE link_id = $1 ORDER BY created_at DESC, rowid DESC",
    )
    .bind(link_id)
    .fetch_all(executor)
    .await
}

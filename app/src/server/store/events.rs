//! The audit trail: an append-only record of everything that happened to each link.
//!
//! Every change writes its event in the transaction that makes the change, so the trail
//! and the tables never disagree. Sessions ending is recorded by a trigger (migration
//! 0004), because sessions end along many paths. No event ever holds a token or a link.

use crate::error::AppError;
use crate::model::events::{EventKind, LinkEvent};
use crate::server::OrInternal;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::net::IpAddr;

/// Looks and refused redeems of one link from one client network within this many
/// seconds of the first are one event, with a count.
pub const REPEAT_WINDOW_SECS: i64 = 600;
/// At most this many looks (and as many refused redeems) start a row of a link's trail
/// per hour; past it, each is counted on the newest such row. Whoever holds a token,
/// live or dead, can grow its trail by no more than that.
pub const MOST_REPEATABLE_PER_HOUR: i64 = 20;
/// The event a repeat joins: the same kind, network and detail within the window.
/// Public, like the other trail queries, for the query-plan test.
pub const SAME_RECENT_EVENT_SQL: &str = "SELECT id FROM link_events
     WHERE link_id = $1 AND kind = $2 AND at > $3 AND network IS NOT DISTINCT FROM $4 AND detail IS NOT DISTINCT FROM $5
     ORDER BY at DESC LIMIT 1";
/// How many rows of a kind a link's trail gained since `$3`, and the newest.
pub const RECENT_OF_KIND_SQL: &str = "SELECT count(*), max(id) FROM link_events
     WHERE link_id = $1 AND kind = $2 AND at > $3";

/// How many events a page of a link's trail holds.
pub const TRAIL_PAGE: i64 = 50;

/// The most of a user agent kept, on the trail and on a session's row.
pub const MAX_USER_AGENT_BYTES: usize = 512;
pub const MAX_DETAIL_BYTES: usize = 1000;

/// Who sent a request, as far as the trail and the rate limits care.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    /// The network `ip` belongs to (see [`crate::server::network`]): what limits and repeated
    /// events are keyed by.
    pub network: IpAddr,
    pub user_agent: Option<String>,
}

/// One event about to be recorded.
#[must_use]
pub struct Event<'a> {
    kind: EventKind,
    coworker: Option<i64>,
    client: Option<&'a Client>,
    detail: Option<&'a str>,
    other_link: Option<i64>,
}

impl<'a> Event<'a> {
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind,
            coworker: None,
            client: None,
            detail: None,
            other_link: None,
        }
    }

    /// The coworker who acted.
    pub fn by(mut self, coworker_id: i64) -> Self {
        self.coworker = Some(coworker_id);
        self
    }

    /// The request that caused it.
    pub fn from(mut self, client: &'a Client) -> Self {
        self.client = Some(client);
        self
    }

    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn other_link(mut self, link_id: i64) -> Self {
        self.other_link = Some(link_id);
        self
    }

    /// Appends the event to link `link_id`'s trail.
    pub async fn record<'e, E>(self, executor: E, link_id: i64, at: i64) -> sqlx::Result<()>
    where
        E: Executor<'e, Database = Any>,
    {
        sqlx::query(
            "INSERT INTO link_events
                    (link_id, at, kind, coworker_id, ip, user_agent, detail, other_link, network)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(link_id)
        .bind(at)
        .bind(self.kind.code())
        .bind(self.coworker)
        .bind(self.client.map(|c| c.ip.to_string()))
        .bind(
            self.client
                .and_then(|c| c.user_agent.as_deref())
                .map(|ua| truncate(ua, MAX_USER_AGENT_BYTES)),
        )
        .bind(self.detail.map(|d| truncate(d, MAX_DETAIL_BYTES)))
        .bind(self.other_link)
        .bind(self.client.map(|c| c.network.to_string()))
        .execute(executor)
        .await?;
        Ok(())
    }

    /// Records a look or a refused redeem, folding repeats (call it inside a write
    /// transaction): the same event from the same client network within
    /// [`REPEAT_WINDOW_SECS`] of an earlier one adds to its count, and once the link's
    /// trail has [`MOST_REPEATABLE_PER_HOUR`] rows of this kind from the last hour, the
    /// newest of them takes the count instead of a new row.
    pub async fn record_repeatable(
        self,
        conn: &mut AnyConnection,
        link_id: i64,
        at: i64,
    ) -> sqlx::Result<()> {
        let kind = self.kind.code();
        let network = self.client.map(|c| c.network.to_string());
        let detail = self.detail.map(|d| truncate(d, MAX_DETAIL_BYTES));
        let same: Option<i64> = sqlx::query_scalar(SAME_RECENT_EVENT_SQL)
            .bind(link_id)
            .bind(kind)
            .bind(at - REPEAT_WINDOW_SECS)
            .bind(&network)
            .bind(detail)
            .fetch_optional(&mut *conn)
            .await?;
        let fold_into = if let Some(id) = same {
            Some(id)
        } else {
            let (recent, newest): (i64, Option<i64>) = sqlx::query_as(RECENT_OF_KIND_SQL)
                .bind(link_id)
                .bind(kind)
                .bind(at - 3600)
                .fetch_one(&mut *conn)
                .await?;
            newest.filter(|_| recent >= MOST_REPEATABLE_PER_HOUR)
        };
        match fold_into {
            Some(id) => {
                sqlx::query(
                    "UPDATE link_events
                        SET repeats = repeats + 1, last_at = max($2, coalesce(last_at, at))
                      WHERE id = $1",
                )
                .bind(id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
            None => self.record(&mut *conn, link_id, at).await,
        }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at: i64,
    repeats: i64,
    last_at: Option<i64>,
    kind: String,
    actor: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
    other_link: Option<i64>,
}

/// The SQL of one page of a link's trail: `$1` the link, `$2` the id to read below,
/// `$3` how many. Public for the query-plan test.
pub const TRAIL_SQL: &str =
    "SELECT e.id, e.at, e.repeats, e.last_at, e.kind, COALESCE(c.name, c.email) AS actor, e.ip,
            e.user_agent, e.detail, e.other_link
     FROM link_events e LEFT JOIN coworkers c ON c.id = e.coworker_id
     WHERE e.link_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3";

/// A page of link `link_id`'s trail, newest first: the [`TRAIL_PAGE`] events before
/// event `before` (from the newest when `None`), and the cursor of the next older page.
pub async fn trail(
    pool: &AnyPool,
    link_id: i64,
    before: Option<i64>,
) -> Result<(Vec<LinkEvent>, Option<i64>), AppError> {
    let mut rows: Vec<EventRow> = sqlx::query_as(TRAIL_SQL)
        .bind(link_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(TRAIL_PAGE + 1)
        .fetch_all(pool)
        .await
        .or_internal("reading a link's trail")?;
    let older = (rows.len() as i64 > TRAIL_PAGE).then(|| {
        rows.truncate(TRAIL_PAGE as usize);
        rows.last().map(|row| row.id)
    });
    let events = rows
        .into_iter()
        .filter_map(|row| {
            Some(LinkEvent {
                id: row.id,
                at: row.at,
                repeats: row.repeats,
                last_at: row.last_at,
                kind: EventKind::parse(&row.kind)?,
                actor: row.actor,
                ip: row.ip,
                user_agent: row.user_agent,
                detail: row.detail,
                other_link: row.other_link,
            })
        })
        .collect();
    Ok((events, older.flatten()))
}

/// When link `link_id`'s trail last recorded an event of `kind`.
pub async fn last_of_kind(
    conn: &mut AnyConnection,
    link_id: i64,
    kind: EventKind,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT max(at) FROM link_events WHERE link_id = $1 AND kind = $2")
        .bind(link_id)
        .bind(kind.code())
        .fetch_one(conn)
        .await
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

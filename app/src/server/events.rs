//! The audit trail: an append-only record of everything that happened to each link.
//!
//! Every change writes its event in the transaction that makes the change, so the trail
//! and the tables never disagree. Sessions ending is recorded by a trigger (migration
//! 0004), because sessions end along many paths. No event ever holds a token or a link.

use super::OrInternal;
use crate::error::AppError;
use crate::model::{EventKind, LinkEvent};
use sqlx::{Executor, Sqlite, SqlitePool};
use std::net::IpAddr;

/// The most of a user agent kept, on the trail and on a session's row.
pub const MAX_USER_AGENT_BYTES: usize = 512;
pub const MAX_DETAIL_BYTES: usize = 1000;

/// Who sent a request, as far as the trail cares.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
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
        E: Executor<'e, Database = Sqlite>,
    {
        sqlx::query(
            "INSERT INTO link_events (link_id, at, kind, coworker_id, ip, user_agent, detail, other_link)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
        .execute(executor)
        .await?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at: i64,
    kind: String,
    actor: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
    other_link: Option<i64>,
}

/// Link `link_id`'s trail, oldest first.
pub async fn trail(pool: &SqlitePool, link_id: i64) -> Result<Vec<LinkEvent>, AppError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT e.id, e.at, e.kind, COALESCE(c.name, c.email) AS actor, e.ip, e.user_agent,
                e.detail, e.other_link
         FROM link_events e LEFT JOIN coworkers c ON c.id = e.coworker_id
         WHERE e.link_id = ?1 ORDER BY e.id",
    )
    .bind(link_id)
    .fetch_all(pool)
    .await
    .or_internal("reading a link's trail")?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(LinkEvent {
                id: row.id,
                at: row.at,
                kind: EventKind::parse(&row.kind)?,
                actor: row.actor,
                ip: row.ip,
                user_agent: row.user_agent,
                detail: row.detail,
                other_link: row.other_link,
            })
        })
        .collect())
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

//! Who is calling: signed-in sessions and the role checks every server function makes.
//!
//! The tower-sessions record holds only the id of an `auth_sessions` row. Every request
//! re-reads that row with its coworker or link, so ending a session, deactivating a
//! coworker or revoking a link takes effect at the browser's very next request.

use super::coworkers::Coworker;
use super::events::{truncate, Client, MAX_USER_AGENT_BYTES};
use super::state::AppState;
use super::{now, OrInternal};
use crate::error::AppError;
use crate::model::SignedIn;
use rand::rngs::OsRng;
use rand::TryRngCore;
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::Session;

/// The key under which the session record keeps the `auth_sessions` id.
const AUTH_KEY: &str = "auth";
/// `last_seen_at` is written at most this often, to keep reads from becoming writes, and
/// at most every tenth of the idle limit, so a session used at shorter intervals than
/// nine tenths of that limit never goes idle (see [`touch_interval`]).
const TOUCH_INTERVAL_SECS: i64 = 60;

/// How long after its last recorded use a session's use is recorded again.
fn touch_interval(idle: Duration) -> i64 {
    TOUCH_INTERVAL_SECS.min(idle.as_secs() as i64 / 10)
}

/// A signed-in caller.
#[derive(Debug, Clone)]
pub enum Principal {
    Coworker(Coworker),
    Invitee(SignedIn),
}

impl Principal {
    pub fn to_current_user(&self) -> SignedIn {
        match self {
            Self::Coworker(coworker) => SignedIn::Coworker {
                email: coworker.email.clone(),
                name: coworker.name.clone(),
                is_admin: coworker.is_admin,
            },
            Self::Invitee(invitee) => invitee.clone(),
        }
    }
}

/// Who a new session belongs to.
pub enum Holder {
    Coworker(i64),
    Invitee { link_id: i64 },
}

/// A fresh `auth_sessions` id: 32 random bytes, hex.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Records a new signed-in session inside the redeem's transaction and returns its id and
/// when it ends (unix seconds). For an invitee, the insert also puts `redeemed` on the
/// link's trail (a trigger).
pub async fn create(
    tx: &mut Transaction<'static, Sqlite>,
    holder: Holder,
    lifetime: Duration,
    client: &Client,
) -> sqlx::Result<(String, i64)> {
    let id = new_id();
    let (coworker_id, link_id) = match holder {
        Holder::Coworker(id) => (Some(id), None),
        Holder::Invitee { link_id } => (None, Some(link_id)),
    };
    let at = now();
    let ends_at = at + lifetime.as_secs() as i64;
    sqlx::query(
        "INSERT INTO auth_sessions
             (id, coworker_id, link_id, created_at, last_seen_at, expires_at, user_agent, ip)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
    )
    .bind(&id)
    .bind(coworker_id)
    .bind(link_id)
    .bind(at)
    .bind(ends_at)
    .bind(
        client
            .user_agent
            .as_deref()
            .map(|ua| truncate(ua, MAX_USER_AGENT_BYTES)),
    )
    .bind(client.ip.to_string())
    .execute(&mut **tx)
    .await?;
    Ok((id, ends_at))
}

/// Binds a freshly created session to the browser, ending whatever session it had: a new
/// session id (no fixation), then the new auth id inside it.
///
/// The browser's cookie and the store's record last until the session's absolute end
/// (`ends_at`, unix seconds), however often the session is used: nothing rewrites them
/// on use. Its idle limit is the `auth_sessions` row's `last_seen_at`, which every
/// request checks (see [`current`]).
pub async fn attach(
    state: &AppState,
    session: &Session,
    auth_id: String,
    ends_at: i64,
) -> Result<(), AppError> {
    if let Some(previous) = session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")?
    {
        end_row(&state.writer, &previous, EndReason::Replaced).await?;
    }
    // A browser that brought a session id gets a new one (no fixation). One that brought
    // none gets a fresh id when the record is created, so there is nothing to cycle (and
    // no store round trip to delete a record that never existed).
    if session.id().is_some() {
        session
            .cycle_id()
            .await
            .or_internal("cycling the session id")?;
    }
    let ends_at = OffsetDateTime::from_unix_timestamp(ends_at).or_internal("dating the session")?;
    session.set_expiry(Some(tower_sessions::Expiry::AtDateTime(ends_at)));
    // The session layer writes the record before the response leaves (and answers 500
    // if it cannot), so the cookie never names a session the store does not have.
    session
        .insert(AUTH_KEY, auth_id)
        .await
        .or_internal("storing the session")?;
    Ok(())
}

/// Session-store records that a redeem wrote inside its own transaction, waiting for the
/// session layer to claim them when the response leaves (the store's `create`, in the
/// server crate). Writing the record with the link and the session row makes a redeem one
/// transaction and one round trip to the writer instead of three.
///
/// An entry is keyed by the `auth_sessions` id the record carries; it is taken out by the
/// first claim, and entries no request claimed (the request failed after its redeem) are
/// dropped after [`PreparedRecords::UNCLAIMED_TTL`]. Their records name a session id no
/// browser was given, and expire in the store like any other.
#[derive(Clone, Default)]
pub struct PreparedRecords(Arc<Mutex<HashMap<String, (Id, Instant)>>>);

/// The record a redeem writes: its session id (the cookie's value) and the bytes the store
/// keeps.
pub struct PreparedRecord {
    pub id: Id,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for PreparedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreparedRecord { .. }")
    }
}

impl std::fmt::Debug for PreparedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.0.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "PreparedRecords {{ waiting: {waiting} }}")
    }
}

impl PreparedRecords {
    pub const UNCLAIMED_TTL: Duration = Duration::from_secs(300);

    /// The record tower-sessions will be asked to create for a session holding `auth_id`,
    /// encoded as its SQLite store encodes records. The store's `expiry_date` column, the
    /// one that counts, is the session's end, written beside it by the redeem; the copy
    /// inside the encoded bytes is not read back.
    pub fn prepare(auth_id: &str) -> Result<PreparedRecord, AppError> {
        let id = Id::default();
        let record = Record {
            id,
            data: HashMap::from([(AUTH_KEY.to_owned(), serde_json::Value::from(auth_id))]),
            expiry_date: OffsetDateTime::now_utc(),
        };
        let data = rmp_serde::to_vec(&record).or_internal("encoding a session record")?;
        Ok(PreparedRecord { id, data })
    }

    /// Remembers that the record with `id` is stored for the session holding `auth_id`.
    pub fn stored(&self, auth_id: String, id: Id) {
        let mut waiting = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        waiting.retain(|_, (_, at)| now.duration_since(*at) < Self::UNCLAIMED_TTL);
        waiting.insert(auth_id, (id, now));
    }

    /// The session layer is about to create `record`. When a redeem already stored it,
    /// gives `record` that stored id and answers whether the stored bytes are still
    /// exactly what `record` holds (only the auth id); `None` when nothing was prepared.
    pub fn claim(&self, record: &mut Record) -> Option<bool> {
        let auth_id = record.data.get(AUTH_KEY)?.as_str()?;
        let (id, _) = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(auth_id)?;
        record.id = id;
        Some(record.data.len() == 1)
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    coworker_id: Option<i64>,
    expires_at: i64,
    last_seen_at: i64,
    c_email: Option<String>,
    c_name: Option<String>,
    c_is_admin: Option<bool>,
    c_created_at: Option<i64>,
    c_deactivated_at: Option<i64>,
    l_email: Option<String>,
    l_name: Option<String>,
    l_message: Option<String>,
    l_revoked_at: Option<i64>,
    i_email: Option<String>,
    i_name: Option<String>,
}

/// The caller, if their session is alive. A session found dead is ended on the spot.
pub async fn current(state: &AppState, session: &Session) -> Result<Option<Principal>, AppError> {
    let Some(auth_id) = session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")?
    else {
        return Ok(None);
    };
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.coworker_id, s.expires_at, s.last_seen_at,
                c.email AS c_email, c.name AS c_name, c.is_admin AS c_is_admin,
                c.created_at AS c_created_at, c.deactivated_at AS c_deactivated_at,
                l.recipient_email AS l_email, l.recipient_name AS l_name,
                l.message AS l_message, l.revoked_at AS l_revoked_at,
                i.email AS i_email, i.name AS i_name
         FROM auth_sessions s
         LEFT JOIN coworkers c ON c.id = s.coworker_id
         LEFT JOIN magic_links l ON l.id = s.link_id
         LEFT JOIN coworkers i ON i.id = l.coworker_id
         WHERE s.id = ?1 AND s.ended_at IS NULL",
    )
    .bind(&auth_id)
    .fetch_optional(&state.db)
    .await
    .or_internal("looking up the session")?;

    let at = now();
    let principal = row.and_then(|row| {
        let idle = if row.coworker_id.is_some() {
            state.config.coworker_idle_timeout
        } else {
            state.config.invitee_idle_timeout
        };
        let alive = row.expires_at > at && row.last_seen_at + idle.as_secs() as i64 > at;
        if !alive {
            return None;
        }
        let principal = match row.coworker_id {
            Some(id) if row.c_deactivated_at.is_none() => Principal::Coworker(Coworker {
                id,
                email: row.c_email?,
                name: row.c_name,
                is_admin: row.c_is_admin?,
                created_at: row.c_created_at?,
            }),
            Some(_) => return None,
            None if row.l_revoked_at.is_none() => {
                let inviter_email = row.i_email?;
                Principal::Invitee(SignedIn::Invitee {
                    email: row.l_email?,
                    name: row.l_name,
                    inviter_name: row.i_name.unwrap_or_else(|| inviter_email.clone()),
                    inviter_email,
                    message: row.l_message,
                })
            }
            None => return None,
        };
        Some((principal, row.last_seen_at, idle))
    });

    match principal {
        Some((principal, last_seen_at, idle)) => {
            if at - last_seen_at >= touch_interval(idle) {
                sqlx::query("UPDATE auth_sessions SET last_seen_at = ?2 WHERE id = ?1")
                    .bind(&auth_id)
                    .bind(at)
                    .execute(&state.writer)
                    .await
                    .or_internal("touching the session")?;
            }
            Ok(Some(principal))
        }
        None => {
            end(&state.writer, session, &auth_id, EndReason::Expired).await?;
            Ok(None)
        }
    }
}

/// Signs the browser out: ends the row and deletes the session record.
pub async fn sign_out(state: &AppState, session: &Session) -> Result<(), AppError> {
    if let Some(auth_id) = session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")?
    {
        end(&state.writer, session, &auth_id, EndReason::SignedOut).await?;
    } else {
        session.flush().await.or_internal("deleting the session")?;
    }
    Ok(())
}

/// Why a session ended, as `auth_sessions.end_reason` and the link's trail record it.
#[derive(Debug, Clone, Copy)]
pub enum EndReason {
    SignedOut,
    /// The browser signed in again, with another link.
    Replaced,
    /// Past its idle or absolute limit.
    Expired,
}

impl EndReason {
    fn code(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::Replaced => "replaced",
            Self::Expired => "expired",
        }
    }
}

async fn end(
    pool: &SqlitePool,
    session: &Session,
    auth_id: &str,
    reason: EndReason,
) -> Result<(), AppError> {
    end_row(pool, auth_id, reason).await?;
    session.flush().await.or_internal("deleting the session")
}

async fn end_row(pool: &SqlitePool, auth_id: &str, reason: EndReason) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE auth_sessions SET ended_at = ?2, end_reason = ?3 WHERE id = ?1 AND ended_at IS NULL",
    )
    .bind(auth_id)
    .bind(now())
    .bind(reason.code())
    .execute(pool)
        .await
        .or_internal("ending the session")?;
    Ok(())
}

/// Request-scoped access for server functions.
pub mod request {
    use super::*;
    use leptos::prelude::expect_context;

    pub fn state() -> AppState {
        expect_context::<AppState>()
    }

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>()
            .await
            .or_internal("reading the session cookie")
    }

    /// The caller's address, network and user agent, for the audit trail and the limits.
    pub async fn client(state: &AppState) -> Result<Client, AppError> {
        let ip = client_ip(state).await?;
        Ok(Client {
            ip,
            network: crate::server::network::network(ip, state.config.ipv6_prefix),
            user_agent: user_agent().await,
        })
    }

    pub async fn user_agent() -> Option<String> {
        let headers: axum::http::HeaderMap = leptos_axum::extract().await.ok()?;
        headers
            .get(axum::http::header::USER_AGENT)?
            .to_str()
            .ok()
            .map(str::to_owned)
    }

    /// The client's address: the peer, or behind a trusted proxy the last
    /// `X-Forwarded-For` entry (the one that proxy appended).
    pub async fn client_ip(state: &AppState) -> Result<std::net::IpAddr, AppError> {
        use axum::extract::ConnectInfo;
        use std::net::SocketAddr;
        if state.config.trust_forwarded_for {
            let headers: axum::http::HeaderMap = leptos_axum::extract()
                .await
                .or_internal("reading request headers")?;
            // Only the last entry: everything before it came from the client. If the
            // proxy wrote something that is not an address, fall back to the peer.
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.rsplit(',').next())
                .and_then(|entry| entry.trim().parse().ok());
            if let Some(ip) = forwarded {
                return Ok(ip);
            }
        }
        let ConnectInfo(peer) = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
            .await
            .or_internal("reading the client address")?;
        Ok(peer.ip())
    }

    /// The signed-in admin coworker, or 401 / 403.
    pub async fn require_admin() -> Result<(AppState, Coworker), AppError> {
        let (state, coworker) = require_coworker().await?;
        if coworker.is_admin {
            Ok((state, coworker))
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The signed-in coworker, or 401 / 403.
    pub async fn require_coworker() -> Result<(AppState, Coworker), AppError> {
        let state = state();
        match current(&state, &session().await?).await? {
            Some(Principal::Coworker(coworker)) => Ok((state, coworker)),
            Some(Principal::Invitee(_)) => Err(AppError::Forbidden),
            None => Err(AppError::NotSignedIn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_for(auth_id: &str) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([(AUTH_KEY.to_owned(), serde_json::Value::from(auth_id))]),
            expiry_date: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn a_prepared_record_is_claimed_once_under_its_stored_id() {
        let records = PreparedRecords::default();
        let prepared = PreparedRecords::prepare("a1").unwrap();
        let stored: Record = rmp_serde::from_slice(&prepared.data).unwrap();
        assert_eq!(stored.id, prepared.id);
        assert_eq!(
            stored.data,
            record_for("a1").data,
            "the bytes the store decodes"
        );
        records.stored("a1".into(), prepared.id);

        let mut other = record_for("b2");
        assert_eq!(records.claim(&mut other), None, "nothing prepared for b2");

        let mut record = record_for("a1");
        assert_eq!(records.claim(&mut record), Some(true));
        assert_eq!(record.id, prepared.id, "the cookie names the stored record");
        assert_eq!(records.claim(&mut record_for("a1")), None, "claimed once");
        assert!(!format!("{records:?} {prepared:?}").contains(&prepared.id.to_string()));
    }

    #[test]
    fn a_record_that_gained_keys_is_claimed_as_changed() {
        let records = PreparedRecords::default();
        let prepared = PreparedRecords::prepare("a1").unwrap();
        records.stored("a1".into(), prepared.id);
        let mut record = record_for("a1");
        record.data.insert("theme".into(), "dark".into());
        assert_eq!(records.claim(&mut record), Some(false));
        assert_eq!(record.id, prepared.id);
    }
}

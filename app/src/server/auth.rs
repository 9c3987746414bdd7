//! Who is calling: signed-in sessions, as the server functions see them.
//!
//! The tower-sessions record holds only the id of an `auth_sessions` row. Every request
//! re-reads that row with its coworker or link, so ending a session, deactivating a
//! coworker or revoking a link takes effect at the browser's very next request.

use super::config::Config;
use super::store::coworkers::Coworker;
use super::store::session_records::AUTH_KEY;
use super::store::sessions::{self, EndReason};
use super::{now, OrInternal};
use crate::error::AppError;
use crate::model::SignedIn;
use sqlx::SqlitePool;
use std::time::Duration;
use time::OffsetDateTime;
use tower_sessions::Session;

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

/// Binds a freshly opened session to the browser, ending whatever session it had: a new
/// session id (no fixation), then the new auth id inside it.
///
/// The browser's cookie and the store's record last until the session's absolute end
/// (`ends_at`, unix seconds), however often the session is used: nothing rewrites them
/// on use. Its idle limit is the `auth_sessions` row's `last_seen_at`, which every
/// request checks (see [`current`]).
pub async fn attach(
    writer: &SqlitePool,
    session: &Session,
    auth_id: String,
    ends_at: i64,
) -> Result<(), AppError> {
    if let Some(previous) = session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")?
    {
        sessions::end(writer, &previous, EndReason::Replaced, now())
            .await
            .or_internal("ending the replaced session")?;
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

/// The caller, if their session is alive. A session found dead is ended on the spot.
/// Reads through `db`, records use and ends through `writer`.
pub async fn current(
    db: &SqlitePool,
    writer: &SqlitePool,
    config: &Config,
    session: &Session,
) -> Result<Option<Principal>, AppError> {
    let Some(auth_id) = session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")?
    else {
        return Ok(None);
    };
    let row = sessions::live(db, &auth_id)
        .await
        .or_internal("looking up the session")?;

    let at = now();
    let principal = row.and_then(|row| {
        let idle = if row.coworker_id.is_some() {
            config.coworker_idle_timeout
        } else {
            config.invitee_idle_timeout
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
            // A removed coworker's session, or one whose link was revoked.
            Some(_) | None => return None,
        };
        Some((principal, row.last_seen_at, idle))
    });

    if let Some((principal, last_seen_at, idle)) = principal {
        if at - last_seen_at >= touch_interval(idle) {
            sessions::touch(writer, &auth_id, at)
                .await
                .or_internal("touching the session")?;
        }
        Ok(Some(principal))
    } else {
        end(writer, session, &auth_id, EndReason::Expired).await?;
        Ok(None)
    }
}

/// Signs the browser out: ends the row and deletes the session record.
pub async fn sign_out(writer: &SqlitePool, session: &Session) -> Result<(), AppError> {
    if let Some(auth_id) = session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")?
    {
        end(writer, session, &auth_id, EndReason::SignedOut).await?;
    } else {
        session.flush().await.or_internal("deleting the session")?;
    }
    Ok(())
}

/// Ends session `auth_id` for `reason` and deletes the browser's record of it.
async fn end(
    writer: &SqlitePool,
    session: &Session,
    auth_id: &str,
    reason: EndReason,
) -> Result<(), AppError> {
    sessions::end(writer, auth_id, reason, now())
        .await
        .or_internal("ending the session")?;
    session.flush().await.or_internal("deleting the session")
}

//! Who is calling: signed-in sessions, as the server functions see them.
//!
//! The tower-sessions record holds only the id of an `auth_sessions` row. Every request
//! re-reads that row with its coworker or link, so ending a session, deactivating a
//! coworker or revoking a link takes effect at the browser's very next request.

use super::config::Config;
use super::gate::{self, cookie::GateCookie, subject::Subject};
use super::store::coworkers::Coworker;
use super::store::session_records::AUTH_KEY;
use super::store::sessions::{self, EndReason};
use super::tokens::PlainToken;
use super::{now, OrInternal};
use crate::error::AppError;
use crate::model::sessions::SignedIn;
use sqlx::AnyPool;
use time::OffsetDateTime;
use tower_sessions::Session;

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

/// A browser's two credentials, as a request handler sees them: Latchkey's own session
/// (the session layer's record, behind the host-only cookie) and the gate cookie, which
/// the response sets or clears (see [`crate::server::gate::cookie`]).
#[derive(Clone)]
pub struct Browser {
    pub session: Session,
    pub gate: GateCookie,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Browser {
    type Rejection = (axum::http::StatusCode, &'static str);

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let gate = parts.extensions.get::<GateCookie>().cloned().ok_or((
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "the gate cookie layer is missing",
        ))?;
        Ok(Self { session, gate })
    }
}

/// Ends session `auth_id` for `reason` (its holder's doing, or its limits'), and tells the
/// gate at once.
async fn end_session(
    writer: &AnyPool,
    auth_id: &str,
    reason: EndReason,
    at: i64,
) -> Result<(), AppError> {
    if let Some(number) = sessions::end(writer, auth_id, reason, at)
        .await
        .or_internal("ending the session")?
    {
        gate::changed(Subject::Session(number));
    }
    Ok(())
}

/// Binds a freshly opened session to the browser, ending whatever session it had: a new
/// session id (no fixation), then the new auth id inside it, and the new gate cookie.
///
/// The browser's cookies and the store's record last until the session's absolute end
/// (`ends_at`, unix seconds), however often the session is used: nothing rewrites them
/// on use. Its idle limit is the `auth_sessions` row's `last_seen_at`, which every
/// request checks (see [`current`]).
pub async fn attach(
    writer: &AnyPool,
    browser: &Browser,
    auth_id: String,
    gate_token: PlainToken,
    ends_at: i64,
) -> Result<(), AppError> {
    let session = &browser.session;
    if let Some(previous) = session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")?
    {
        end_session(writer, &previous, EndReason::Replaced, now()).await?;
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
    browser.gate.set(gate_token, ends_at.unix_timestamp());
    Ok(())
}

/// A signed-in caller with the session that signed them in.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The `auth_sessions` id.
    pub auth_id: String,
    /// The invitation that opened the session, for an invitee.
    pub link_id: Option<i64>,
    pub principal: Principal,
    /// Whether the invitation opens the application [`look_up`] was asked about, and
    /// whether this session has reached it before (both false when none was asked).
    pub opens_application: bool,
    pub reached_application: bool,
}

/// What a session id names.
#[derive(Debug)]
pub enum Lookup {
    /// A live session.
    Alive(Caller),
    /// A session that has ended (now, if it had not been ended yet), and whether it was
    /// an invitee's.
    Ended { invitee: bool },
    /// No session.
    Unknown,
}

/// Looks session `auth_id` up and applies every rule that ends one: its absolute and
/// idle limits, its coworker's removal, its link's revocation. A session found dead is
/// ended on the spot; a live one's use is recorded at most every [`sessions::touch_interval`].
/// Reads through `db`, writes through `writer`. With `application`, also answers what
/// the session may do there, in the same query.
pub async fn look_up(
    db: &AnyPool,
    writer: &AnyPool,
    config: &Config,
    auth_id: &str,
    application: Option<i64>,
) -> Result<Lookup, AppError> {
    let Some(row) = sessions::find(db, auth_id, application)
        .await
        .or_internal("looking up the session")?
    else {
        return Ok(Lookup::Unknown);
    };
    let at = now();
    let invitee = row.link_id.is_some();
    let idle = if invitee {
        config.invitee_idle_timeout
    } else {
        config.coworker_idle_timeout
    };
    let within_limits = row.ended_at.is_none()
        && row.expires_at > at
        && row.last_seen_at + idle.as_secs() as i64 > at;
    let (link_id, last_seen_at, ended_at) = (row.link_id, row.last_seen_at, row.ended_at);
    let (opens_application, reached_application) = (row.opens_application, row.reached_application);
    let principal = if within_limits {
        principal_of(row)
    } else {
        None
    };
    let Some(principal) = principal else {
        if ended_at.is_none() {
            end_session(writer, auth_id, EndReason::Expired, at).await?;
        }
        return Ok(Lookup::Ended { invitee });
    };
    if at - last_seen_at >= sessions::touch_interval(idle) {
        sessions::touch(writer, auth_id, at)
            .await
            .or_internal("touching the session")?;
    }
    Ok(Lookup::Alive(Caller {
        auth_id: auth_id.to_owned(),
        link_id,
        principal,
        opens_application,
        reached_application,
    }))
}

/// Who holds a session within its limits: an active coworker, or the invitee of a link
/// that was not revoked. `None` otherwise.
fn principal_of(row: sessions::Found) -> Option<Principal> {
    match row.coworker_id {
        Some(id) if row.c_deactivated_at.is_none() => Some(Principal::Coworker(Coworker {
            id,
            email: row.c_email?,
            name: row.c_name,
            is_admin: row.c_is_admin?.into(),
            created_at: row.c_created_at?,
        })),
        None if row.l_revoked_at.is_none() => {
            let inviter_email = row.i_email?;
            Some(Principal::Invitee(SignedIn::Invitee {
                email: row.l_email?,
                name: row.l_name,
                inviter_name: row.i_name.unwrap_or_else(|| inviter_email.clone()),
                inviter_email,
                message: row.l_message,
            }))
        }
        // A removed coworker's session, or one whose link was revoked.
        Some(_) | None => None,
    }
}

/// The session id this browser's session record holds, if any.
pub async fn auth_id(session: &Session) -> Result<Option<String>, AppError> {
    session
        .get::<String>(AUTH_KEY)
        .await
        .or_internal("reading the session")
}

/// The caller, if their session is alive. A browser whose session has ended loses its
/// record of it.
pub async fn current(
    db: &AnyPool,
    writer: &AnyPool,
    config: &Config,
    session: &Session,
) -> Result<Option<Caller>, AppError> {
    let Some(auth_id) = auth_id(session).await? else {
        return Ok(None);
    };
    match look_up(db, writer, config, &auth_id, None).await? {
        Lookup::Alive(caller) => Ok(Some(caller)),
        Lookup::Ended { .. } | Lookup::Unknown => {
            session.flush().await.or_internal("deleting the session")?;
            Ok(None)
        }
    }
}

/// Signs the browser out: ends the row, deletes the session record and clears the gate
/// cookie.
pub async fn sign_out(writer: &AnyPool, browser: &Browser) -> Result<(), AppError> {
    if let Some(auth_id) = auth_id(&browser.session).await? {
        end_session(writer, &auth_id, EndReason::SignedOut, now()).await?;
    }
    browser.gate.clear();
    browser
        .session
        .flush()
        .await
        .or_internal("deleting the session")
}

//! A link's holder arrives: looking at a link (which consumes nothing) and redeeming it
//! (which opens a session, exactly once).

use super::super::db;
use super::super::state::AppState;
use super::super::store::applications;
use super::super::store::events::{self, Client, Event};
use super::super::store::links::{self, purpose_code, Won};
use super::super::store::redeems::Redeem;
use super::super::store::session_records::PreparedRecords;
use super::super::store::sessions::{self, Lifetimes, Opening};
use super::super::tokens::{PlainToken, TokenHash};
use super::super::{now, OrInternal};
use crate::error::AppError;
use crate::model::events::EventKind;
use crate::model::links::{LinkPreview, Purpose, Redeemed};
use crate::model::sessions::SessionLifetime;
use sqlx::{Any, AnyConnection};
use tracing::info;

/// Where a browser goes after redeeming an invitation with no destination.
pub(super) const WELCOME: &str = "/welcome";
/// Where a coworker goes after signing in.
const DASHBOARD: &str = "/dashboard";

/// What the landing page shows. Looking consumes nothing; it is recorded on the link's
/// trail (that is how a coworker sees a mail scanner open a link).
pub async fn peek(
    state: &AppState,
    token: &PlainToken,
    client: &Client,
) -> Result<LinkPreview, AppError> {
    let at = now();
    let link = links::by_hash(&state.db, &token.hashed(), at)
        .await
        .or_internal("looking up a link")?
        .ok_or(AppError::LinkUnknown)?;
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting to record a look")?;
    Event::new(EventKind::Opened)
        .from(client)
        .record_repeatable(&mut tx, link.id, at)
        .await
        .or_internal("recording a look at a link")?;
    tx.commit()
        .await
        .or_internal("recording a look at a link")?;
    Ok(LinkPreview {
        purpose: if link.is_invite() {
            Purpose::Invite
        } else {
            Purpose::Signin
        },
        state: link.state,
        inviter_name: link.inviter().to_owned(),
        can_renew: link.can_renew(),
        email: link.recipient_email,
        name: link.recipient_name,
        inviter_email: link.inviter_email,
        expires_at: link.expires_at,
    })
}

/// A successful redeem: the new session's id, its gate token (the gate cookie's value),
/// when it ends (unix seconds) and where the browser goes next.
pub struct Redemption {
    pub auth_id: String,
    pub gate_token: PlainToken,
    pub ends_at: i64,
    pub redeemed: Redeemed,
}

/// The session a redeem at `at` by `client` would open for `hash`'s link, and the token
/// of its gate cookie (stored only as its hash, in the opening).
fn opening(state: &AppState, hash: &TokenHash, client: &Client, at: i64) -> (Opening, PlainToken) {
    let gate_token = PlainToken::generate();
    let opening = Opening {
        id: sessions::new_id(),
        token_hash: hash.as_bytes().to_vec(),
        at,
        lifetimes: Lifetimes {
            coworker_secs: state.config.coworker_session_lifetime.as_secs() as i64,
            invitee_default_minutes: SessionLifetime::DEFAULT.minutes(),
            invitee_longest_secs: state.config.invitee_session_lifetime.as_secs() as i64,
        },
        user_agent: client
            .user_agent
            .as_deref()
            .map(|ua| events::truncate(ua, events::MAX_USER_AGENT_BYTES).to_owned()),
        ip: client.ip.to_string(),
        gate_hash: gate_token.hashed().as_bytes().to_vec(),
    };
    (opening, gate_token)
}

/// Redeems a link: one conditional write marks it used and opens a session, in one
/// transaction, so of any number of concurrent attempts exactly one succeeds.
///
/// A pending invitation, the common case, takes `redeem_invitation`: one round trip.
/// Everything else (a coworker's sign-in link, and every refusal with its reason on the
/// trail) takes the general path below, which reads and writes step by step.
pub async fn redeem(
    state: &AppState,
    token: &PlainToken,
    client: &Client,
) -> Result<Redemption, AppError> {
    redeem_hashed(state, token.hashed(), client).await
}

/// [`redeem`] for the link whose token hashes to `hash`.
async fn redeem_hashed(
    state: &AppState,
    hash: TokenHash,
    client: &Client,
) -> Result<Redemption, AppError> {
    if let Some(redemption) = redeem_invitation(state, &hash, client).await? {
        return Ok(redemption);
    }
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting a redeem")?;
    let won = redeem_in(&mut tx, state, &hash, client, at).await;
    commit_redeem(state, tx, won).await
}

/// What [`redeem_in`] did inside its caller's transaction, to commit.
pub(super) type Redeeming = Result<(Won, Redemption), AppError>;

/// The link whose token hashes to `hash` is redeemed inside the write transaction `tx`,
/// opening a session: or refused, with its reason on the trail. The caller commits
/// ([`commit_redeem`]); nothing is answered until then.
pub(super) async fn redeem_in(
    tx: &mut AnyConnection,
    state: &AppState,
    hash: &TokenHash,
    client: &Client,
    at: i64,
) -> Result<Redeeming, AppError> {
    let won = links::mark_redeemed(&mut *tx, hash, at)
        .await
        .or_internal("redeeming a link")?;
    let Some(won) = won else {
        // Still inside the write transaction: the state read here is the one that
        // refused the redeem, and the refusal lands on the trail atomically.
        let link = links::by_hash(&mut *tx, hash, at)
            .await
            .or_internal("looking up a link")?;
        let refusal = match &link {
            None => AppError::LinkUnknown,
            // Pending here cannot happen under the write lock; answer as a fault.
            Some(link) => AppError::refusal(link.state).unwrap_or(AppError::Internal),
        };
        if let Some(link) = &link {
            let reason = match refusal {
                AppError::LinkUsed => "already used",
                AppError::LinkExpired => "expired",
                AppError::LinkRevoked => "revoked",
                _ => "unknown",
            };
            Event::new(EventKind::RedeemRefused)
                .from(client)
                .detail(reason)
                .record_repeatable(&mut *tx, link.id, at)
                .await
                .or_internal("recording a refused redeem")?;
        }
        return Ok(Err(refusal));
    };

    let (opening, gate_token) = opening(state, hash, client, at);
    let auth_id = opening.id.clone();
    let ends_at = sessions::open(&mut *tx, opening)
        .await
        .or_internal("opening a session")?
        .ok_or(AppError::Internal)?;
    if won.purpose == purpose_code(Purpose::Signin) {
        // An invitee's session records its redeem itself (a trigger, migration 0004).
        Event::new(EventKind::Redeemed)
            .from(client)
            .record(&mut *tx, won.id, at)
            .await
            .or_internal("recording a redeem")?;
    }
    let redemption = Redemption {
        auth_id,
        gate_token,
        ends_at,
        redeemed: Redeemed {
            redirect_to: String::new(),
        },
    };
    Ok(Ok((won, redemption)))
}

/// Commits the transaction [`redeem_in`] worked in, then answers its redeem (with where
/// the browser goes next) or its refusal.
pub(super) async fn commit_redeem(
    state: &AppState,
    tx: sqlx::Transaction<'static, Any>,
    redeeming: Result<Redeeming, AppError>,
) -> Result<Redemption, AppError> {
    // A fault rolls the transaction back as it is dropped.
    let redeeming = redeeming?;
    tx.commit().await.or_internal("committing a redeem")?;
    let (won, mut redemption) = redeeming.inspect_err(|refusal| {
        info!(reason = ?refusal, "redeem refused");
    })?;
    info!(link_id = won.id, "link redeemed");
    redemption.redeemed.redirect_to = if won.purpose == purpose_code(Purpose::Signin) {
        // A sign-in asked for from an application's gate returns there.
        won.destination.unwrap_or_else(|| DASHBOARD.to_owned())
    } else {
        landing(state, won.id, won.destination).await?
    };
    Ok(redemption)
}

/// A pending invitation's redeem, committed (see [`crate::server::group`]) with whatever
/// other redeems are waiting: mark the link used, open the invitee's session, and store
/// the session layer's record for it (see [`PreparedRecords`]). A link that is not a
/// pending invitation changes nothing and answers `None`.
async fn redeem_invitation(
    state: &AppState,
    hash: &TokenHash,
    client: &Client,
) -> Result<Option<Redemption>, AppError> {
    let (opening, gate_token) = opening(state, hash, client, now());
    let auth_id = opening.id.clone();
    let record = PreparedRecords::prepare(&auth_id)?;
    let won = state
        .redeems
        .commit(Redeem {
            opening,
            record_id: record.id.to_string(),
            record_data: record.data,
        })
        .await?;
    let Some((_, link_id, destination, ends_at)) = won.into_iter().next() else {
        return Ok(None);
    };
    state.prepared_records.stored(auth_id.clone(), record.id);
    info!(link_id, "link redeemed");
    Ok(Some(Redemption {
        auth_id,
        gate_token,
        ends_at,
        redeemed: Redeemed {
            redirect_to: landing(state, link_id, destination).await?,
        },
    }))
}

/// Where an invitee goes after Continue: the invitation's destination, else the first
/// application it opens, else the welcome page.
async fn landing(
    state: &AppState,
    link_id: i64,
    destination: Option<String>,
) -> Result<String, AppError> {
    if let Some(destination) = destination {
        return Ok(destination);
    }
    let opens = applications::of_link(&state.db, link_id)
        .await
        .or_internal("reading a link's applications")?;
    Ok(opens
        .into_iter()
        .next()
        .map_or_else(|| WELCOME.to_owned(), |app| app.base.to_string()))
}

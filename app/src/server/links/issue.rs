//! Issuing links: a coworker's invitation (committed with other issues waiting, then
//! mailed) and a coworker's own sign-in link (from the `/login` form or the CLI).

use super::super::codes::{CodeKey, PlainCode};
use super::super::db;
use super::super::metrics::{self, Issued};
use super::super::signins::SigninRequest;
use super::super::state::AppState;
use super::super::store::coworkers::{self, Coworker};
use super::super::store::events::Event;
use super::super::store::links::{self, Created, LinkSpec, NewLink};
use super::super::tokens::PlainToken;
use super::super::{now, OrInternal};
use super::access;
use super::delivery::{deliver, mail_invitation};
use super::input::NewInvite;
use crate::error::AppError;
use crate::model::events::EventKind;
use crate::model::links::{IssuedLink, Purpose};
use crate::server::email::EmailAddress;
use sqlx::AnyPool;
use tracing::{info, instrument, warn};

/// Issues an invitation and mails it. A failed delivery is recorded on the link and
/// returned to the coworker; the link itself is kept so it can be resent or revoked.
#[instrument(skip_all, fields(coworker = coworker.id))]
pub async fn issue(
    state: &AppState,
    coworker: &Coworker,
    invite: NewInvite,
) -> Result<IssuedLink, AppError> {
    let lifetime = invite.expires_in.seconds();
    if lifetime as u64 > state.config.max_link_lifetime.as_secs() {
        return Err(AppError::invalid(
            "expires_in",
            "That expiry is longer than this server allows; choose a shorter one.",
        ));
    }
    let session_minutes = invite.session.minutes();
    if session_minutes as u64 * 60 > state.config.invitee_session_lifetime.as_secs() {
        return Err(AppError::invalid(
            "session_lifetime",
            "That session lifetime is longer than this server allows; choose a shorter one.",
        ));
    }
    let opens = access::resolve(&state.db, invite.applications.as_deref()).await?;
    access::check_destination(invite.destination.as_deref(), &opens)?;
    let application_ids: Vec<i64> = opens.iter().map(|app| app.id).collect();
    let spec = LinkSpec {
        purpose: Purpose::Invite,
        coworker_id: coworker.id,
        email: invite.email.as_str(),
        name: invite.name.as_deref(),
        message: invite.message.as_deref(),
        lifetime_secs: lifetime,
        destination: invite.destination.as_deref(),
        session_minutes: Some(session_minutes),
        renewal_allowed: invite.renewal_allowed,
        replaces: None,
    };
    // The link and its `issued` event, committed with other issues that are waiting.
    let at = now();
    let token = PlainToken::generate();
    let code = PlainCode::generate();
    let id = state
        .issues
        .commit(
            NewLink::new(&spec, &token, at)
                .with_code(&state.code_key, &token, &code)
                .opening(&application_ids),
        )
        .await?
        .first()
        .map(|&(_, id)| id)
        .ok_or(AppError::Internal)?;
    let created = Created {
        id,
        token,
        code: Some(code),
        expires_at: at + spec.lifetime_secs,
    };
    metrics::link_issued(Issued::Invitation);
    info!(link_id = created.id, to = %invite.email.masked(), "link issued");
    mail_invitation(
        state,
        &spec,
        &created,
        (coworker.display_name(), &coworker.email),
    )
    .await
}

/// Creates a coworker's sign-in link without a code (the CLI prints it; nothing mails
/// it): its URL, id and expiry, or `None` when no active coworker has this address.
pub async fn create_signin(
    pool: &AnyPool,
    public_url: &str,
    lifetime_secs: i64,
    email: &EmailAddress,
) -> Result<Option<(String, i64, i64)>, AppError> {
    Ok(store_signin(pool, lifetime_secs, email, None, None)
        .await?
        .map(|created| {
            (
                created.token.link(public_url),
                created.id,
                created.expires_at,
            )
        }))
}

/// Stores a sign-in link for `email`'s coworker, with a code when `code_key` is given,
/// that after Continue returns to `return_to` (checked by the caller, see
/// [`crate::server::applications::safe_return`]). `None` when no active coworker has
/// this address.
async fn store_signin(
    pool: &AnyPool,
    lifetime_secs: i64,
    email: &EmailAddress,
    return_to: Option<&str>,
    code_key: Option<&CodeKey>,
) -> Result<Option<Created>, AppError> {
    let Some(coworker) = coworkers::find_active(pool, email)
        .await
        .or_internal("looking up a coworker")?
    else {
        return Ok(None);
    };
    let spec = LinkSpec {
        purpose: Purpose::Signin,
        coworker_id: coworker.id,
        email: email.as_str(),
        name: None,
        message: None,
        lifetime_secs,
        destination: return_to,
        session_minutes: None,
        renewal_allowed: false,
        replaces: None,
    };
    let at = now();
    let mut tx = db::begin_write(pool)
        .await
        .or_internal("starting a sign-in link")?;
    let created = links::insert(&mut tx, &spec, at, code_key)
        .await
        .or_internal("storing a sign-in link")?;
    Event::new(EventKind::Issued)
        .record(&mut *tx, created.id, at)
        .await
        .or_internal("recording a sign-in link")?;
    tx.commit().await.or_internal("committing a sign-in link")?;
    metrics::link_issued(Issued::SigninLink);
    Ok(Some(created))
}

/// Works a `/login` request: mails a sign-in link if the address is a coworker's.
/// Runs after the answer was sent, so every address gets the same answer at the same speed.
pub async fn send_signin(state: AppState, request: SigninRequest) {
    let SigninRequest { email, return_to } = request;
    // Looked up on the read pool: only a real coworker's link takes the writer.
    match coworkers::find_active(&state.db, &email).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            info!(to = %email.masked(), "sign-in requested for an address that is not a coworker");
            return;
        }
        Err(error) => {
            warn!(%error, "looking up a coworker for a sign-in failed");
            return;
        }
    }
    if !state.limits.signin_mail(email.as_str()).await {
        warn!(to = %email.masked(), "sign-in mail not sent: this address's hourly mail cap is spent");
        return;
    }
    let lifetime = state.config.signin_link_lifetime.as_secs() as i64;
    let created = store_signin(
        &state.writer,
        lifetime,
        &email,
        return_to.as_deref(),
        Some(&state.code_key),
    )
    .await;
    let created = match created {
        Ok(Some(created)) => created,
        Ok(None) => {
            info!(to = %email.masked(), "sign-in requested for an address that is not a coworker");
            return;
        }
        Err(_) => return,
    };
    let url = created.token.link(&state.config.public_url);
    let id = created.id;
    let letter = match state.postman.signin(
        &email,
        &url,
        created.code.as_ref(),
        created.expires_at,
        lifetime,
    ) {
        Ok(letter) => letter,
        Err(error) => {
            warn!(%error, "composing a sign-in mail failed");
            return;
        }
    };
    if deliver(&state.deliveries, &state.postman, id, letter)
        .await
        .is_ok()
    {
        info!(link_id = id, to = %email.masked(), "sign-in link sent");
    }
}

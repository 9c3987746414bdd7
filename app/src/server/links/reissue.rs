//! A new link in an old one's place: a coworker resends an invitation, or its holder
//! asks for a new one (renewal) and the issuer is told.

use super::super::db;
use super::super::mail::{MailError, RenewalNotice};
use super::super::metrics::{self, Issued};
use super::super::state::AppState;
use super::super::store::applications;
use super::super::store::coworkers::Coworker;
use super::super::store::events::{self, Client, Event};
use super::super::store::links::{self, StoredLink};
use super::super::tokens::PlainToken;
use super::super::{now, OrInternal};
use super::delivery::mail_invitation;
use crate::error::AppError;
use crate::model::events::EventKind;
use crate::model::links::{Delivery, IssuedLink, LinkState, Renewed};
use crate::server::email::EmailAddress;
use tracing::{info, instrument, warn};

/// The holder of a dead invitation may ask for a new one this often.
pub const RENEWAL_INTERVAL_SECS: i64 = 10 * 60;

/// Sends a pending or expired invitation again: the old token is revoked and a new one
/// goes to the same address, in one transaction, then by mail.
#[instrument(skip_all, fields(link_id = id, coworker = coworker.id))]
pub async fn resend(
    state: &AppState,
    coworker: &Coworker,
    id: i64,
) -> Result<IssuedLink, AppError> {
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting a resend")?;
    let old = links::by_id(&mut *tx, id, at)
        .await
        .or_internal("reading a link")?
        .filter(StoredLink::is_invite)
        .ok_or(AppError::NotFound)?;
    match old.state {
        LinkState::Redeemed => return Err(AppError::LinkUsed),
        LinkState::Revoked => return Err(AppError::LinkRevoked),
        LinkState::Pending | LinkState::Expired => {}
    }
    links::mark_revoked(&mut tx, id, coworker.id, at)
        .await
        .or_internal("revoking the resent link")?;
    let spec = old.successor(state.config.max_link_lifetime.as_secs() as i64);
    let created = links::insert(&mut tx, &spec, at, Some(&state.code_key))
        .await
        .or_internal("storing the resent link")?;
    applications::copy_to(&mut tx, id, created.id)
        .await
        .or_internal("storing the resent link")?;
    Event::new(EventKind::Resent)
        .by(coworker.id)
        .other_link(created.id)
        .record(&mut *tx, id, at)
        .await
        .or_internal("recording a resend")?;
    Event::new(EventKind::Issued)
        .by(coworker.id)
        .detail("resend")
        .other_link(id)
        .record(&mut *tx, created.id, at)
        .await
        .or_internal("recording a resend")?;
    tx.commit().await.or_internal("committing a resend")?;
    metrics::link_issued(Issued::Resent);
    info!(new_link_id = created.id, "link resent");
    // The new link is the same invitation: it names whoever issued the first one (the
    // trail records who resent it).
    mail_invitation(state, &spec, &created, (old.inviter(), &old.inviter_email)).await
}

/// The holder of an expired or used invitation asks for a new one. It goes to the
/// invitation's own address (never one the requester names), the issuer is told by mail,
/// and each link allows this once per [`RENEWAL_INTERVAL_SECS`].
pub async fn renew(
    state: &AppState,
    token: &PlainToken,
    client: &Client,
) -> Result<Renewed, AppError> {
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting a renewal")?;
    let old = links::by_hash(&mut *tx, &token.hashed(), at)
        .await
        .or_internal("looking up a link")?
        .ok_or(AppError::LinkUnknown)?;
    if !old.is_invite() {
        return Err(AppError::invalid(
            "token",
            "Sign-in links are not renewed: ask for a new one on the sign-in page.",
        ));
    }
    match old.state {
        LinkState::Revoked => return Err(AppError::LinkRevoked),
        LinkState::Pending => {
            return Err(AppError::invalid(
                "token",
                "This link still works: press Continue to sign in.",
            ))
        }
        LinkState::Expired | LinkState::Redeemed => {}
    }
    if !old.renewal_open() {
        return Err(AppError::RenewalOff);
    }
    let last = events::last_of_kind(&mut tx, old.id, EventKind::Renewed)
        .await
        .or_internal("reading the last renewal")?;
    if let Some(last) = last.filter(|&last| last + RENEWAL_INTERVAL_SECS > at) {
        return Err(AppError::RateLimited {
            retry_after_secs: (last + RENEWAL_INTERVAL_SECS - at).max(1) as u64,
        });
    }
    let spec = old.successor(state.config.max_link_lifetime.as_secs() as i64);
    let created = links::insert(&mut tx, &spec, at, Some(&state.code_key))
        .await
        .or_internal("storing the renewed link")?;
    applications::copy_to(&mut tx, old.id, created.id)
        .await
        .or_internal("storing the renewed link")?;
    Event::new(EventKind::Renewed)
        .from(client)
        .other_link(created.id)
        .record(&mut *tx, old.id, at)
        .await
        .or_internal("recording a renewal")?;
    Event::new(EventKind::Issued)
        .detail("renewal requested by the invitee")
        .other_link(old.id)
        .record(&mut *tx, created.id, at)
        .await
        .or_internal("recording a renewal")?;
    tx.commit().await.or_internal("committing a renewal")?;
    metrics::link_issued(Issued::Renewed);
    info!(link_id = old.id, new_link_id = created.id, "link renewed");

    let issued =
        mail_invitation(state, &spec, &created, (old.inviter(), &old.inviter_email)).await?;
    notify_inviter(state, &old, issued.id, issued.delivery).await;
    Ok(Renewed {
        sent_to: EmailAddress::parse("email", &old.recipient_email)
            .map(|e| e.masked())
            .unwrap_or_default(),
    })
}

/// Tells the issuer of a renewed invitation what happened. A failure is logged, not
/// answered: the invitee's new link went out (or its failure is on the trail).
async fn notify_inviter(state: &AppState, old: &StoredLink, new_id: i64, delivery: Delivery) {
    let Ok(inviter) = EmailAddress::parse("email", &old.inviter_email) else {
        return;
    };
    let details_url = format!(
        "{}/dashboard/links/{new_id}",
        state.config.public_url.trim_end_matches('/')
    );
    let letter = state.postman.renewal_notice(&RenewalNotice {
        to: &inviter,
        to_name: old.inviter_name.as_deref(),
        invitee: &old.recipient_email,
        invitee_name: old.recipient_name.as_deref(),
        delivered: delivery == Delivery::Sent,
        details_url: &details_url,
    });
    let result = match letter {
        Ok(letter) => state.postman.send(letter).await,
        Err(error) => Err(MailError::from(error.to_string())),
    };
    if let Err(error) = result {
        warn!(link_id = old.id, %error, "telling the inviter about a renewal failed");
    }
}

//! What a coworker does to an invitation from the dashboard: revoke it, end one of its
//! sessions, turn renewal on or off, and look at everything about it.

use super::super::db;
use super::super::store::applications::{self, Application};
use super::super::store::coworkers::Coworker;
use super::super::store::events::{self, Event};
use super::super::store::sessions::{self, Numbered};
use super::super::store::{link_list, links};
use super::super::{now, OrInternal};
use super::list::summary;
use super::redeem::WELCOME;
use crate::error::AppError;
use crate::model::events::EventKind;
use crate::model::links::{LinkDetails, LinkSummary};
use crate::model::sessions::SessionLifetime;
use crate::server::gate::{self, subject::Subject};
use sqlx::AnyPool;
use tracing::{info, instrument};

/// Revokes an invitation and ends every session it opened, in one transaction.
/// Revoking a revoked link changes nothing and answers its current state.
#[instrument(skip_all, fields(link_id = id, coworker = coworker.id))]
pub async fn revoke(
    writer: &AnyPool,
    coworker: &Coworker,
    id: i64,
) -> Result<LinkSummary, AppError> {
    let at = now();
    let mut tx = db::begin_write(writer)
        .await
        .or_internal("starting a revoke")?;
    if links::mark_revoked(&mut tx, id, coworker.id, at)
        .await
        .or_internal("revoking a link")?
    {
        Event::new(EventKind::Revoked)
            .by(coworker.id)
            .record(&mut *tx, id, at)
            .await
            .or_internal("recording a revoke")?;
        // The trigger puts each ended session on the trail.
        let ended = sessions::end_for_link(&mut tx, id, coworker.id, at)
            .await
            .or_internal("ending a revoked link's sessions")?;
        info!(sessions_ended = ended, "link revoked");
    }
    tx.commit().await.or_internal("committing a revoke")?;
    gate::changed(Subject::Link(id));
    summary(writer, id).await
}

/// Everything about one invitation: options, sessions and a page of its trail (newest
/// first, before event `before` when given).
pub async fn details(
    pool: &AnyPool,
    id: i64,
    before: Option<i64>,
) -> Result<LinkDetails, AppError> {
    let link = summary(pool, id).await?;
    let options = link_list::options(pool, id)
        .await
        .or_internal("reading a link's options")?
        .ok_or(AppError::NotFound)?;
    let sessions = sessions::of_link(pool, id)
        .await
        .or_internal("reading a link's sessions")?;
    let (events, older_events) = events::trail(pool, id, before).await?;
    let applications = applications::of_link(pool, id)
        .await
        .or_internal("reading a link's applications")?
        .into_iter()
        .map(Application::info)
        .collect();
    Ok(LinkDetails {
        link,
        message: options.message,
        destination: options.destination.unwrap_or_else(|| WELCOME.to_owned()),
        session_minutes: options
            .session_minutes
            .unwrap_or(SessionLifetime::DEFAULT.minutes()),
        renewal_allowed: options.renewal_allowed,
        replaces: options.replaces,
        replaced_by: options.replaced_by,
        events,
        older_events,
        sessions,
        applications,
    })
}

/// Ends one session an invitation opened (by its number from [`details`]). Already
/// ended is fine; an unknown number (or a coworker's own session) is not.
#[instrument(skip_all, fields(session = number, coworker = coworker.id))]
pub async fn end_session(
    writer: &AnyPool,
    coworker: &Coworker,
    number: i64,
) -> Result<(), AppError> {
    match sessions::end_numbered(writer, number, coworker.id, now())
        .await
        .or_internal("ending a session")?
    {
        Numbered::Ended => {
            gate::changed(Subject::Session(number));
            info!("session ended by a coworker");
            Ok(())
        }
        Numbered::AlreadyEnded => Ok(()),
        Numbered::Unknown => Err(AppError::NotFound),
    }
}

/// Turns new-link requests for an invitation on or off.
pub async fn set_renewal(
    writer: &AnyPool,
    coworker: &Coworker,
    id: i64,
    allowed: bool,
) -> Result<(), AppError> {
    let at = now();
    let mut tx = db::begin_write(writer)
        .await
        .or_internal("starting a renewal change")?;
    if links::set_renewal(&mut tx, id, allowed)
        .await
        .or_internal("changing renewal")?
    {
        Event::new(EventKind::RenewalChanged)
            .by(coworker.id)
            .detail(if allowed { "allowed" } else { "off" })
            .record(&mut *tx, id, at)
            .await
            .or_internal("recording a renewal change")?;
    } else if links::by_id(&mut *tx, id, at)
        .await
        .or_internal("reading a link")?
        .is_none_or(|l| !l.is_invite())
    {
        return Err(AppError::NotFound);
    }
    tx.commit().await.or_internal("committing a renewal change")
}

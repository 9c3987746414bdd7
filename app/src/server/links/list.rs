//! The dashboard's view of invitations: a page of the list, one summary, the counts.

use super::super::store::link_list::{self, ListPlan};
use super::super::{now, OrInternal};
use super::input::ListFilter;
use crate::error::AppError;
use crate::model::links::{LinkCounts, LinkPage, LinkSummary};
use sqlx::AnyPool;

/// Links per page of the dashboard table.
pub const PAGE_SIZE: i64 = 50;

/// Every coworker sees every invitation of the organisation, newest first.
///
/// Without a search, or with one shorter than 3 characters, the query walks the
/// `(purpose, id DESC)` index from the newest link and stops after one page. A longer
/// search walks the trigram index of addresses (migration 0003) newest first instead,
/// so finding "acme.com" among a million links reads only the links that contain it.
/// A filter on a state that holds few links reads that state's own index.
pub async fn list(pool: &AnyPool, filter: &ListFilter) -> Result<LinkPage, AppError> {
    let at = now();
    let trigram = filter
        .query
        .as_ref()
        .is_some_and(|q| q.chars().count() >= 3);
    let few_in_state = match filter.state {
        Some(state) => link_list::few_in_state(pool, state, at)
            .await
            .or_internal("counting links in a state")?,
        None => false,
    };
    let plan = match filter.state {
        Some(state) if few_in_state => ListPlan::ByState(state),
        _ if trigram => ListPlan::Search,
        _ => ListPlan::Newest,
    };
    let mut rows = link_list::page(
        pool,
        plan,
        at,
        filter.before,
        filter.query.as_deref(),
        filter.state,
        PAGE_SIZE + 1,
    )
    .await
    .or_internal("listing links")?;
    let next_cursor = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|row| row.id.to_string())
    } else {
        None
    };
    Ok(LinkPage {
        links: rows.into_iter().map(LinkSummary::from).collect(),
        next_cursor,
    })
}

/// One invitation's summary, or 404.
pub async fn summary(pool: &AnyPool, id: i64) -> Result<LinkSummary, AppError> {
    link_list::summary(pool, id, now())
        .await
        .or_internal("reading a link")?
        .map(LinkSummary::from)
        .ok_or(AppError::NotFound)
}

/// Counts invitations per state.
pub async fn counts(pool: &AnyPool) -> Result<LinkCounts, AppError> {
    let [pending, redeemed, expired, revoked] = link_list::counts(pool, now())
        .await
        .or_internal("counting links")?;
    Ok(LinkCounts {
        pending,
        redeemed,
        expired,
        revoked,
    })
}

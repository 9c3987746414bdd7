//! Redeeming by code: the way in from another device. A typed address and code redeem
//! the link the code belongs to, through the same redeem as its token; the link and its
//! code are one invitation, so afterwards both are used.

use super::super::codes::{PlainCode, MAX_CODE_FAILURES};
use super::super::db;
use super::super::email::EmailAddress;
use super::super::state::AppState;
use super::super::store::events::{Client, Event};
use super::super::store::link_codes;
use super::super::tokens::TokenHash;
use super::super::{now, OrInternal};
use super::redeem::{redeem_hashed, Redemption};
use crate::error::AppError;
use crate::model::{EventKind, CODE_LOCKED, WRONG_CODE};
use tracing::info;

/// Redeems the link of `email` whose code is `code`. A code that matches none of the
/// address's live codes counts a wrong try against each of them, and answers exactly
/// as an address with no invitation does: [`AppError::CodeRefused`].
pub async fn redeem_code(
    state: &AppState,
    email: &EmailAddress,
    code: &PlainCode,
    client: &Client,
) -> Result<Redemption, AppError> {
    let at = now();
    let live = link_codes::live_codes(&state.db, email.as_str(), at, MAX_CODE_FAILURES)
        .await
        .or_internal("looking up codes")?;
    let matched = live.iter().find_map(|stored| {
        let salt = TokenHash(stored.token_hash.as_slice().try_into().ok()?);
        state
            .code_key
            .matches(&salt, code, &stored.code_hash)
            .then_some(salt)
    });
    if let Some(hash) = matched {
        return redeem_hashed(state, hash, client).await;
    }
    if !live.is_empty() {
        let ids: Vec<i64> = live.iter().map(|stored| stored.id).collect();
        count_wrong_try(state, &ids, client, at).await?;
    }
    info!("a code was refused");
    Err(AppError::CodeRefused)
}

/// One wrong try against each of `ids`, on their trails: folded with the others from the
/// same network, and the one that locks a code written on its own.
async fn count_wrong_try(
    state: &AppState,
    ids: &[i64],
    client: &Client,
    at: i64,
) -> Result<(), AppError> {
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting to count a wrong code")?;
    let counted = link_codes::count_failure(&mut tx, ids, MAX_CODE_FAILURES)
        .await
        .or_internal("counting a wrong code")?;
    for (id, failures) in counted {
        let event = Event::new(EventKind::RedeemRefused).from(client);
        if failures >= MAX_CODE_FAILURES {
            event.detail(CODE_LOCKED).record(&mut *tx, id, at).await
        } else {
            event
                .detail(WRONG_CODE)
                .record_repeatable(&mut tx, id, at)
                .await
        }
        .or_internal("recording a wrong code")?;
    }
    tx.commit().await.or_internal("committing a wrong code")
}

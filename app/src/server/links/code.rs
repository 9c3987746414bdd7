//! Redeeming by code: the way in from another device. A typed address and code redeem
//! the link the code belongs to, as its token would; the link and its code are one
//! invitation, so afterwards both are used.
//!
//! A code takes [`MAX_CODE_FAILURES`] wrong tries, however many arrive at once: each try
//! is one write transaction (they take turns, see [`db::begin_write`]) that reads the
//! address's live codes, checks the typed code against them, and in the same transaction
//! either redeems the link it matches or counts a wrong try against each of them, on
//! their trails. So a try is checked only against codes that still take tries, and every
//! wrong try checked is counted.
//!
//! Every well-formed address takes that same transaction, invited or not: an address
//! with no live code is not answered sooner than one with codes (which would tell who
//! has been invited and, beside `/login`, who is a coworker).

use super::super::codes::{PlainCode, MAX_CODE_FAILURES};
use super::super::db;
use super::super::email::EmailAddress;
use super::super::state::AppState;
use super::super::store::events::Client;
use super::super::store::link_codes::{self, Typist};
use super::super::tokens::TokenHash;
use super::super::{now, OrInternal};
use super::redeem::{commit_redeem, redeem_in, Redemption};
use crate::error::AppError;
use sqlx::AnyConnection;
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
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting to check a code")?;
    let live = link_codes::live_codes(&mut *tx, email.as_str(), at, MAX_CODE_FAILURES)
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
        let redeeming = redeem_in(&mut tx, state, &hash, client, at).await;
        return commit_redeem(state, tx, redeeming).await;
    }
    let ids: Vec<i64> = live.iter().map(|stored| stored.id).collect();
    count_wrong_try(&mut tx, &ids, client, at).await?;
    link_codes::commit_as_written(&mut tx, db::Engine::of(&state.writer))
        .await
        .or_internal("counting a wrong code")?;
    tx.commit().await.or_internal("committing a wrong code")?;
    info!("a code was refused");
    Err(AppError::CodeRefused)
}

/// One wrong try against each of `ids` (none for an address without live codes), on
/// their trails: folded with the others from the same network, and the one that locks a
/// code written on its own. The same statements run whether there are codes or not.
async fn count_wrong_try(
    tx: &mut AnyConnection,
    ids: &[i64],
    client: &Client,
    at: i64,
) -> Result<(), AppError> {
    let counted = link_codes::count_failure(&mut *tx, ids, MAX_CODE_FAILURES)
        .await
        .or_internal("counting a wrong code")?;
    let (mut wrong, mut locked) = (Vec::new(), Vec::new());
    for (id, failures) in counted {
        if failures >= MAX_CODE_FAILURES {
            locked.push(id);
        } else {
            wrong.push(id);
        }
    }
    let typist = Typist {
        ip: client.ip.to_string(),
        network: client.network.to_string(),
        user_agent: client.user_agent.as_deref(),
    };
    link_codes::record_wrong_tries(&mut *tx, &wrong, &locked, &typist, at)
        .await
        .or_internal("recording a wrong code")
}

//! A link's holder arrives (by its token, or by its address and code from another
//! device): the steps every way in shares, whether it comes as a server
//! function (the page with its WASM) or as a plain HTML form (the page without it).
//!
//! Each step counts against the caller's network's attempt limit before anything is
//! parsed or looked up, and a successful redeem attaches the new session to the browser's
//! cookies before answering. Each attempt to sign in is counted once, redeemed or
//! refused by reason, for the operators' metrics.

use super::auth::{self, Browser};
use super::codes::PlainCode;
use super::email::EmailAddress;
use super::links::{self, Redemption};
use super::metrics;
use super::request;
use super::state::AppState;
use super::store::events::Client;
use super::store::links as stored;
use super::{now, OrInternal};
use crate::error::AppError;
use crate::model::links::{Redeemed, Renewed};

/// Redeems the link `token` and signs this browser in, replacing whatever session it had.
pub async fn continue_with_token(
    state: &AppState,
    client: &Client,
    browser: &Browser,
    token: &str,
) -> Result<Redeemed, AppError> {
    let result = async {
        let token = request::attempt(state, client, token).await?;
        let redemption = links::redeem(state, &token, client).await?;
        sign_in(state, browser, redemption).await
    }
    .await;
    metrics::redeem_attempt("link", &result);
    result
}

/// Redeems the link whose code `code` the person typed with its address `email`, and
/// signs this browser in. Counted against the same per-network attempt limit as links.
pub async fn continue_with_code(
    state: &AppState,
    client: &Client,
    browser: &Browser,
    email: &str,
    code: &str,
) -> Result<Redeemed, AppError> {
    let result = async {
        state.limits.link_attempt(client.network).await?;
        let email = EmailAddress::parse("email", email)?;
        let code = PlainCode::parse(code)?;
        let redemption = links::redeem_code(state, &email, &code, client).await?;
        sign_in(state, browser, redemption).await
    }
    .await;
    metrics::redeem_attempt("code", &result);
    result
}

/// The holder of an expired or used invitation asks for a new link.
pub async fn renew_with_token(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Renewed, AppError> {
    let token = request::attempt(state, client, token).await?;
    links::renew(state, &token, client).await
}

/// Whether the page refusing `token` should offer "Send me a new link". Reads only: the
/// attempt that was refused has already been counted and recorded.
pub async fn renewal_offered(state: &AppState, token: &str) -> Result<bool, AppError> {
    let Ok(token) = links::parse_token(token) else {
        return Ok(false);
    };
    Ok(stored::by_hash(&state.db, &token.hashed(), now())
        .await
        .or_internal("looking up a link")?
        .is_some_and(|link| link.can_renew()))
}

/// Attaches a redeemed link's new session to this browser.
async fn sign_in(
    state: &AppState,
    browser: &Browser,
    redemption: Redemption,
) -> Result<Redeemed, AppError> {
    auth::attach(
        &state.writer,
        browser,
        redemption.auth_id,
        redemption.gate_token,
        redemption.ends_at,
    )
    .await?;
    Ok(redemption.redeemed)
}

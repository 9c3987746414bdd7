//! Request-scoped access for server functions: the shared state, the session, who is
//! calling and from where, and the openings every endpoint of a kind shares.

use super::auth::{self, Principal};
use super::links::parse_token;
use super::state::AppState;
use super::store::coworkers::Coworker;
use super::store::events::Client;
use super::tokens::PlainToken;
use super::OrInternal;
use crate::error::AppError;
use leptos::prelude::expect_context;
use tower_sessions::Session;

pub fn state() -> AppState {
    expect_context::<AppState>()
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .or_internal("reading the session cookie")
}

/// The browser's credentials: its session, and its gate cookie's fate.
pub async fn browser() -> Result<auth::Browser, AppError> {
    leptos_axum::extract::<auth::Browser>()
        .await
        .or_internal("reading the browser's cookies")
}

/// The caller's address, network and user agent, for the audit trail and the limits.
pub async fn client(state: &AppState) -> Result<Client, AppError> {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let ConnectInfo(peer) = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .or_internal("reading the client address")?;
    let headers: axum::http::HeaderMap = leptos_axum::extract()
        .await
        .or_internal("reading request headers")?;
    Ok(client_of(state, peer.ip(), &headers))
}

/// The client behind a request from `peer` with `headers`: the peer, or behind a trusted
/// proxy (one of `LATCHKEY_TRUSTED_PROXIES`, with `LATCHKEY_TRUST_FORWARDED_FOR` on) the
/// last `X-Forwarded-For` entry, the one that proxy appended.
pub fn client_of(
    state: &AppState,
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
) -> Client {
    let ip = if state.config.trust_forwarded_for && state.config.trusts_proxy(peer) {
        forwarded_for(headers).unwrap_or(peer)
    } else {
        peer
    };
    Client {
        ip,
        network: super::network::network(ip, state.config.ipv6_prefix),
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    }
}

/// The last `X-Forwarded-For` entry: everything before it came from the client. `None`
/// when the proxy wrote something that is not an address.
pub fn forwarded_for(headers: &axum::http::HeaderMap) -> Option<std::net::IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|entry| entry.trim().parse().ok())
}

/// The opening of every endpoint that takes a link's token (look, renew, redeem): who is
/// calling, within the per-network attempt limit, and the token, parsed; a malformed one
/// never reaches the database.
pub async fn link_attempt(token: &str) -> Result<(AppState, Client, PlainToken), AppError> {
    let state = state();
    let client = client(&state).await?;
    let token = attempt(&state, &client, token).await?;
    Ok((state, client, token))
}

/// A link attempt by `client`: counted against its network's limit, then parsed.
pub async fn attempt(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<PlainToken, AppError> {
    state.limits.link_attempt(client.network).await?;
    parse_token(token)
}

/// The signed-in caller, if any.
pub async fn principal(state: &AppState) -> Result<Option<Principal>, AppError> {
    Ok(caller(state).await?.map(|caller| caller.principal))
}

/// The signed-in caller with their session, if any.
pub async fn caller(state: &AppState) -> Result<Option<auth::Caller>, AppError> {
    auth::current(&state.db, &state.writer, &state.config, &session().await?).await
}

/// The signed-in admin coworker, or 401 / 403.
pub async fn require_admin() -> Result<(AppState, Coworker), AppError> {
    let (state, coworker) = require_coworker().await?;
    if coworker.is_admin {
        Ok((state, coworker))
    } else {
        Err(AppError::Forbidden)
    }
}

/// The signed-in coworker, or 401 / 403.
pub async fn require_coworker() -> Result<(AppState, Coworker), AppError> {
    let state = state();
    match principal(&state).await? {
        Some(Principal::Coworker(coworker)) => Ok((state, coworker)),
        Some(Principal::Invitee(_)) => Err(AppError::Forbidden),
        None => Err(AppError::NotSignedIn),
    }
}

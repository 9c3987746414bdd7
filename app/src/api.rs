//! Every server function, at the stable endpoints the README documents.
//!
//! Each one is thin: find out who is calling, parse the input into domain types, call one
//! domain function. Roles are checked here, on the server, never only in the UI.

use crate::error::AppError;
use crate::model::{IssuedLink, LinkPage, LinkPreview, LinkSummary, Redeemed, SignedIn};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{auth, auth::request, email::EmailAddress, links};

/// Asks for a coworker sign-in link. The answer is the same whether or not the address
/// belongs to a coworker, and comes before any mail is sent.
#[server(prefix = "/api", endpoint = "request_signin")]
pub async fn request_signin(email: String) -> Result<(), AppError> {
    let email = EmailAddress::parse("email", &email)?;
    let state = request::state();
    let ip = request::client_ip(&state).await?;
    state.limits.signin_request(ip, email.as_str())?;
    tokio::spawn(links::send_signin(state, email));
    Ok(())
}

/// Issues an invitation and mails it; answers the link's URL this once.
#[server(prefix = "/api", endpoint = "issue_link")]
pub async fn issue_link(
    email: String,
    name: Option<String>,
    message: Option<String>,
    expires_in: String,
) -> Result<IssuedLink, AppError> {
    let (state, coworker) = request::require_coworker().await?;
    let invite = links::NewInvite::parse(&email, name.as_deref(), message.as_deref(), &expires_in)?;
    state.limits.issue(coworker.id)?;
    links::issue(&state, &coworker, invite).await
}

/// Lists the organisation's invitations, newest first, filtered by status and address.
#[server(prefix = "/api", endpoint = "list_links")]
pub async fn list_links(
    status: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
) -> Result<LinkPage, AppError> {
    let (state, _coworker) = request::require_coworker().await?;
    let filter = links::ListFilter::parse(status.as_deref(), q.as_deref(), cursor.as_deref())?;
    links::list(&state.db, &filter).await
}

/// Revokes a link and ends the sessions it opened.
#[server(prefix = "/api", endpoint = "revoke_link")]
pub async fn revoke_link(id: String) -> Result<LinkSummary, AppError> {
    let (state, coworker) = request::require_coworker().await?;
    let id = id
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::invalid("id", "The link id must be a number."))?;
    links::revoke(&state.writer, &coworker, id).await
}

/// Who a link is for and what state it is in. Consumes nothing.
#[server(prefix = "/api", endpoint = "peek_link")]
pub async fn peek_link(token: String) -> Result<LinkPreview, AppError> {
    let state = request::state();
    state
        .limits
        .link_attempt(request::client_ip(&state).await?)?;
    let token = links::parse_token(&token)?;
    links::peek(&state.db, &token).await
}

/// Redeems a link and signs this browser in, replacing whatever session it had.
#[server(prefix = "/api", endpoint = "redeem_link")]
pub async fn redeem_link(token: String) -> Result<Redeemed, AppError> {
    let state = request::state();
    state
        .limits
        .link_attempt(request::client_ip(&state).await?)?;
    let token = links::parse_token(&token)?;
    let session = request::session().await?;
    let user_agent = request::user_agent().await;
    let redemption = links::redeem(&state, &token, user_agent.as_deref()).await?;
    auth::attach(&state, &session, redemption.auth_id).await?;
    Ok(redemption.redeemed)
}

/// Ends this browser's session on the server.
#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    auth::sign_out(&request::state(), &request::session().await?).await
}

/// The signed-in caller, or `null`.
#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SignedIn>, AppError> {
    let state = request::state();
    let principal = auth::current(&state, &request::session().await?).await?;
    Ok(principal.map(|p| p.to_current_user()))
}

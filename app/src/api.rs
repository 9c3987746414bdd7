//! Every server function, at the stable endpoints docs/api.md documents.
//!
//! Each one is thin: find out who is calling, parse the input into domain types, call one
//! domain function. Roles are checked here, on the server, never only in the UI.

use crate::error::AppError;
use crate::model::applications::{ApplicationInfo, ReturnAddress};
use crate::model::coworkers::CoworkerInfo;
use crate::model::links::{
    IssuedLink, LinkCounts, LinkDetails, LinkPage, LinkPreview, LinkSummary, Redeemed, Renewed,
};
use crate::model::sessions::SignedIn;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{
    applications, arrival, auth, coworkers, email::EmailAddress, links, request,
    signins::SigninRequest, OrInternal,
};

/// Asks for a coworker sign-in link. The answer is the same whether or not the address
/// belongs to a coworker, and comes before any mail is sent.
/// `rd`, when given, is where the link returns to after Continue: it must be inside
/// Latchkey or a registered application.
#[server(prefix = "/api", endpoint = "request_signin")]
pub async fn request_signin(email: String, rd: Option<String>) -> Result<(), AppError> {
    let email = EmailAddress::parse("email", &email)?;
    let state = request::state();
    let return_to = match rd.as_deref().map(str::trim).filter(|rd| !rd.is_empty()) {
        None => None,
        Some(rd) => Some(applications::return_to(&state.db, &state.config, rd).await?),
    };
    let client = request::client(&state).await?;
    state
        .limits
        .signin_request(client.network, email.as_str())
        .await?;
    state.signins.request(SigninRequest { email, return_to });
    Ok(())
}

/// Issues an invitation and mails it; answers the link's URL this once.
// A server function's parameters are its form's fields, sent flat (`email=…&name=…`).
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "issue_link")]
pub async fn issue_link(
    email: String,
    name: Option<String>,
    message: Option<String>,
    expires_in: String,
    destination: Option<String>,
    session_lifetime: Option<String>,
    renewal: Option<String>,
    applications: Option<String>,
) -> Result<IssuedLink, AppError> {
    let (state, coworker) = request::require_coworker().await?;
    let invite = links::NewInvite::parse(&links::InviteForm {
        email: &email,
        name: name.as_deref(),
        message: message.as_deref(),
        expires_in: &expires_in,
        destination: destination.as_deref(),
        session_lifetime: session_lifetime.as_deref(),
        renewal: renewal.as_deref(),
        applications: applications.as_deref(),
    })?;
    state.limits.issue(coworker.id).await?;
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

/// How many invitations are in each state.
#[server(prefix = "/api", endpoint = "count_links")]
pub async fn count_links() -> Result<LinkCounts, AppError> {
    let (state, _coworker) = request::require_coworker().await?;
    links::counts(&state.db).await
}

/// One invitation with its options, audit trail and sessions.
#[server(prefix = "/api", endpoint = "show_link")]
pub async fn show_link(id: String, before: Option<String>) -> Result<LinkDetails, AppError> {
    let (state, _coworker) = request::require_coworker().await?;
    let before = match before.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(cursor) => Some(parse_id("before", cursor)?),
    };
    links::details(&state.db, parse_id("id", &id)?, before).await
}

/// Revokes a link and ends the sessions it opened.
#[server(prefix = "/api", endpoint = "revoke_link")]
pub async fn revoke_link(id: String) -> Result<LinkSummary, AppError> {
    let (state, coworker) = request::require_coworker().await?;
    links::revoke(&state.writer, &coworker, parse_id("id", &id)?).await
}

/// Sends a pending or expired invitation again with a new token; the old one stops working.
#[server(prefix = "/api", endpoint = "resend_link")]
pub async fn resend_link(id: String) -> Result<IssuedLink, AppError> {
    let (state, coworker) = request::require_coworker().await?;
    let id = parse_id("id", &id)?;
    state.limits.issue(coworker.id).await?;
    links::resend(&state, &coworker, id).await
}

/// Ends one session an invitation opened.
#[server(prefix = "/api", endpoint = "end_session")]
pub async fn end_session(session: String) -> Result<(), AppError> {
    let (state, coworker) = request::require_coworker().await?;
    links::end_session(&state.writer, &coworker, parse_id("session", &session)?).await
}

/// Lets the holder of an expired or used invitation ask for a new one, or not.
#[server(prefix = "/api", endpoint = "set_renewal")]
pub async fn set_renewal(id: String, renewal: String) -> Result<(), AppError> {
    let (state, coworker) = request::require_coworker().await?;
    let id = parse_id("id", &id)?;
    let allowed = links::parse_renewal(Some(&renewal))?
        .ok_or_else(|| AppError::invalid("renewal", "Say allowed or off."))?;
    links::set_renewal(&state.writer, &coworker, id, allowed).await
}

/// Who a link is for and what state it is in. Consumes nothing.
#[server(prefix = "/api", endpoint = "peek_link")]
pub async fn peek_link(token: String) -> Result<LinkPreview, AppError> {
    let (state, client, token) = request::link_attempt(&token).await?;
    links::peek(&state, &token, &client).await
}

/// The holder of an expired or used invitation asks for a new link, sent to the
/// invitation's own address.
#[server(prefix = "/api", endpoint = "renew_link")]
pub async fn renew_link(token: String) -> Result<Renewed, AppError> {
    let state = request::state();
    let client = request::client(&state).await?;
    arrival::renew_with_token(&state, &client, &token).await
}

/// Redeems a link and signs this browser in, replacing whatever session it had.
#[server(prefix = "/api", endpoint = "redeem_link")]
pub async fn redeem_link(token: String) -> Result<Redeemed, AppError> {
    let state = request::state();
    let client = request::client(&state).await?;
    let browser = request::browser().await?;
    arrival::continue_with_token(&state, &client, &browser, &token).await
}

/// Ends this browser's session on the server.
#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    auth::sign_out(&request::state().writer, &request::browser().await?).await
}

/// The signed-in caller, or `null`.
#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SignedIn>, AppError> {
    let principal = request::principal(&request::state()).await?;
    Ok(principal.map(|p| p.to_current_user()))
}

/// Which applications an invitation opens: `applications` is the whole new set
/// (comma-separated ids; empty for none). Adding one widens the invitation's access,
/// removing one narrows it; both go on its timeline.
#[server(prefix = "/api", endpoint = "set_link_access")]
pub async fn set_link_access(id: String, applications: String) -> Result<(), AppError> {
    let (state, coworker) = request::require_coworker().await?;
    let id = parse_id("id", &id)?;
    let chosen = links::parse_application_ids(Some(&applications))?.unwrap_or_default();
    links::set_access(&state.writer, &coworker, id, &chosen).await
}

/// The applications behind the gate. Coworkers only.
#[server(prefix = "/api", endpoint = "list_applications")]
pub async fn list_applications() -> Result<Vec<ApplicationInfo>, AppError> {
    let (state, _coworker) = request::require_coworker().await?;
    applications::list(&state.db).await
}

/// Registers an application behind the gate. Admins only.
#[server(prefix = "/api", endpoint = "add_application")]
pub async fn add_application(name: String, url: String) -> Result<ApplicationInfo, AppError> {
    let (state, _admin) = request::require_admin().await?;
    applications::add(&state.writer, &name, &url).await
}

/// Removes an application: no session reaches it any more. Admins only.
#[server(prefix = "/api", endpoint = "remove_application")]
pub async fn remove_application(name: String) -> Result<(), AppError> {
    let (state, _admin) = request::require_admin().await?;
    applications::remove(&state.writer, &name).await
}

/// The applications this browser's session opens: an invitee's invitation's, or every
/// one for a coworker; empty when signed out.
#[server(prefix = "/api", endpoint = "my_applications")]
pub async fn my_applications() -> Result<Vec<ApplicationInfo>, AppError> {
    let state = request::state();
    match request::caller(&state).await? {
        Some(caller) => applications::of_caller(&state.db, caller.link_id).await,
        None => Ok(Vec::new()),
    }
}

/// Where `rd` leads, when it is somewhere Latchkey may send a browser back to: its
/// normalised address and the application it is inside (for the sign-out and "session
/// ended" pages). Nothing for an address outside Latchkey and its applications.
#[server(prefix = "/api", endpoint = "return_to")]
pub async fn return_to(rd: String) -> Result<ReturnAddress, AppError> {
    let state = request::state();
    applications::describe_return(&state.db, &state.config, &rd).await
}

/// Every coworker, active ones first. Admins only.
#[server(prefix = "/api", endpoint = "list_coworkers")]
pub async fn list_coworkers() -> Result<Vec<CoworkerInfo>, AppError> {
    let (state, _admin) = request::require_admin().await?;
    coworkers::all(&state.db)
        .await
        .or_internal("listing coworkers")
}

/// Adds a coworker (or brings back a deactivated one). Admins only.
#[server(prefix = "/api", endpoint = "add_coworker")]
pub async fn add_coworker(
    email: String,
    name: Option<String>,
    role: Option<String>,
) -> Result<(), AppError> {
    let (state, _admin) = request::require_admin().await?;
    let email = EmailAddress::parse("email", &email)?;
    let name = links::optional_text("name", name.as_deref(), links::MAX_NAME_CHARS, false)?;
    let role = match role.as_deref().map(str::trim) {
        None | Some("") => coworkers::Role::Coworker,
        Some(text) => parse_role(text)?,
    };
    match coworkers::add_as(&state.writer, &email, name.as_deref(), role)
        .await
        .or_internal("adding a coworker")?
    {
        coworkers::Added::AlreadyActive => Err(AppError::invalid(
            "email",
            "This address already belongs to an active coworker.",
        )),
        coworkers::Added::Created | coworkers::Added::Reactivated => Ok(()),
    }
}

/// Deactivates a coworker: their sessions end and their sign-in links stop working.
/// Admins only, and never themselves.
#[server(prefix = "/api", endpoint = "deactivate_coworker")]
pub async fn deactivate_coworker(id: String) -> Result<(), AppError> {
    let (state, admin) = request::require_admin().await?;
    let id = parse_id("id", &id)?;
    if id == admin.id {
        return Err(AppError::invalid(
            "id",
            "You cannot deactivate yourself; ask another admin.",
        ));
    }
    let changed = coworkers::deactivate(&state.writer, id, Some(admin.id))
        .await
        .or_internal("deactivating a coworker")?;
    coworker_changed(changed)
}

/// Makes an active coworker an admin or a plain coworker. Admins only; the organisation
/// always keeps at least one active admin.
#[server(prefix = "/api", endpoint = "set_coworker_role")]
pub async fn set_coworker_role(id: String, role: String) -> Result<(), AppError> {
    let (state, _admin) = request::require_admin().await?;
    let id = parse_id("id", &id)?;
    let role = parse_role(&role)?;
    let changed = coworkers::set_role(&state.writer, id, role)
        .await
        .or_internal("changing a coworker's role")?;
    coworker_changed(changed)
}

/// A role from a form: `coworker` or `admin`.
#[cfg(feature = "ssr")]
fn parse_role(text: &str) -> Result<coworkers::Role, AppError> {
    coworkers::Role::parse(text)
        .ok_or_else(|| AppError::invalid("role", "The role must be coworker or admin."))
}

/// The answer to a change to a coworker.
#[cfg(feature = "ssr")]
fn coworker_changed(changed: coworkers::Changed) -> Result<(), AppError> {
    match changed {
        coworkers::Changed::Done => Ok(()),
        coworkers::Changed::NotFound => Err(AppError::NotFound),
        coworkers::Changed::LastAdmin => Err(AppError::invalid(
            "id",
            "This is the last active admin; make another coworker an admin first.",
        )),
    }
}

/// Parses a numeric id parameter.
#[cfg(feature = "ssr")]
fn parse_id(field: &str, value: &str) -> Result<i64, AppError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| AppError::invalid(field, "This must be a positive whole number."))
}

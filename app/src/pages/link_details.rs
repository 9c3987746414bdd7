//! `/dashboard/links/:id`: one invitation's whole life: its options, its audit trail and
//! the sessions it opened and the applications it opens, with Resend, Revoke, End
//! session, the renewal switch and the choice of applications.

use crate::api::{
    current_user, list_applications, show_link, EndSession, ResendLink, RevokeLink, SetLinkAccess,
    SetRenewal,
};
use crate::components::{
    use_hydrated, ActionButton, Busy, ConfirmButton, ErrorMessage, Header, ResponsiveTable,
    RevokeButton, StateBadge, When,
};
use crate::error::AppError;
use crate::model::applications::ApplicationInfo;
use crate::model::codes::{CODE_LOCKED, MAX_CODE_FAILURES, WRONG_CODE};
use crate::model::events::{EventKind, LinkEvent};
use crate::model::links::{LinkDetails, LinkState};
use crate::model::sessions::{LinkSession, SignedIn};
use crate::model::times::format_utc;
use crate::pages::dashboard::IssuedNotice;
use crate::pages::link_access::Access;
use leptos::prelude::*;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::use_params_map;

#[component]
pub fn LinkDetailsPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense fallback=|| view! { <main><p role="status">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(SignedIn::Coworker { email, .. })) => view! { <Details email /> }.into_any(),
                    Ok(_) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(error) => view! { <main><ErrorMessage error /></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Details(email: String) -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let revoke = ServerAction::<RevokeLink>::new();
    let resend = ServerAction::<ResendLink>::new();
    let end_session = ServerAction::<EndSession>::new();
    let set_renewal = ServerAction::<SetRenewal>::new();
    let set_access = ServerAction::<SetLinkAccess>::new();
    let details = Resource::new(
        move || {
            (
                id(),
                revoke.version().get(),
                end_session.version().get(),
                set_renewal.version().get(),
                set_access.version().get(),
            )
        },
        |(id, ..)| show_link(id, None),
    );
    let all_applications = Resource::new(|| (), |_| list_applications());
    view! {
        <Header email />
        <main>
            <p><A href="/dashboard">"← All links"</A></p>
            {move || resend.value().get().map(|result| match result {
                Ok(issued) => {
                    let new_id = issued.id;
                    view! {
                        <div class="card stack">
                            <IssuedNotice issued />
                            <p><a href=format!("/dashboard/links/{new_id}")>"Open the new link's details"</a></p>
                        </div>
                    }.into_any()
                }
                Err(error) => view! { <ErrorMessage error /> }.into_any(),
            })}
            <Busy when=revoke.pending() text="Revoking…" />
            <Busy when=end_session.pending() text="Ending the session…" />
            <Busy when=set_renewal.pending() text="Saving…" />
            <Busy when=set_access.pending() text="Saving access…" />
            {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
            {move || end_session.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
            {move || set_renewal.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
            {move || set_access.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
            <Transition fallback=|| view! { <p role="status">"Loading the link…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Ok(details) => view! { <Overview details revoke resend end_session set_renewal set_access all_applications /> }.into_any(),
                        Err(error) => view! { <h1>"Link not found"</h1><ErrorMessage error /> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn Overview(
    details: LinkDetails,
    revoke: ServerAction<RevokeLink>,
    resend: ServerAction<ResendLink>,
    end_session: ServerAction<EndSession>,
    set_renewal: ServerAction<SetRenewal>,
    set_access: ServerAction<SetLinkAccess>,
    /// Every registered application, for the choice of what the link opens.
    all_applications: Resource<Result<Vec<ApplicationInfo>, AppError>>,
) -> impl IntoView {
    let hydrated = use_hydrated();
    let LinkDetails {
        link,
        message,
        destination,
        session_minutes,
        renewal_allowed,
        replaces,
        replaced_by,
        events,
        older_events,
        sessions,
        applications,
    } = details;
    let id = link.id.to_string();
    let trail_of = id.clone();
    let revocable = matches!(link.state, LinkState::Pending | LinkState::Redeemed);
    let resendable = matches!(link.state, LinkState::Pending | LinkState::Expired);
    // What matters for its state: when it expires, or when it was used, expired or
    // revoked (and by whom).
    let (milestone, milestone_at) = link.milestone();
    let revoked_by = match link.state {
        LinkState::Revoked => link.revoked_by.clone().map(|who| format!(" by {who}")),
        _ => None,
    };
    let invitee = link.email.clone();
    let who = link.name.clone().unwrap_or_else(|| link.email.clone());
    let access_of = id.clone();
    view! {
        <h1>"Link for " {link.email.clone()}</h1>
        <div class="columns">
            <div class="stack">
            <section class="card stack" aria-labelledby="summary-heading">
                <h2 id="summary-heading">"Summary"</h2>
                <dl class="facts">
                    <dt>"Status"</dt>
                    <dd><StateBadge state=link.state /></dd>
                    <dt>"Delivery"</dt>
                    <dd>
                        {link.delivery.label()}
                        {link.delivery_error.clone().map(|error| view! { <span class="sub error-text">{error}</span> })}
                    </dd>
                    <dt>"Name"</dt>
                    <dd>{link.name.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                    <dt>"Issued by"</dt>
                    <dd>{link.issued_by.clone()} ", " <When at=link.created_at /></dd>
                    <dt>{milestone}</dt>
                    <dd><When at=milestone_at />{revoked_by}</dd>
                    <dt>"Destination"</dt>
                    <dd><code>{destination}</code></dd>
                    <dt>"Session lasts"</dt>
                    <dd>{session_label(session_minutes)}</dd>
                    <dt>"Message"</dt>
                    <dd class="message">{message.unwrap_or_else(|| "—".to_owned())}</dd>
                    {replaces.map(|old| view! {
                        <dt>"Replaces"</dt>
                        <dd><a href=format!("/dashboard/links/{old}")>{format!("Link #{old}")}</a></dd>
                    })}
                    {replaced_by.map(|new| view! {
                        <dt>"Replaced by"</dt>
                        <dd><a href=format!("/dashboard/links/{new}")>{format!("Link #{new}")}</a></dd>
                    })}
                </dl>
                <div class="row">
                    {resendable.then(|| view! {
                        <ActionButton action=resend name="id" value=id.clone() label="Resend" class="primary" pending_label="Sending…" />
                    })}
                    {revocable.then(|| view! {
                        <RevokeButton action=revoke id=id.clone() email=invitee.clone() />
                    })}
                </div>
                <ActionForm action=set_renewal attr:class="inline">
                    <input type="hidden" name="id" value=id.clone() />
                    <input type="hidden" name="renewal" value=if renewal_allowed { "off" } else { "allowed" } />
                    <p class="hint">
                        {if renewal_allowed {
                            "The invitee can ask for a new link once this one has expired or been used."
                        } else {
                            "The invitee cannot ask for a new link."
                        }}
                    </p>
                    <button type="submit" class="secondary" disabled=move || !hydrated.get() || set_renewal.pending().get()>
                        {if renewal_allowed { "Turn off new-link requests" } else { "Allow new-link requests" }}
                    </button>
                </ActionForm>
            </section>
            <Access id=access_of who opens=applications all=all_applications set_access />
            </div>
            <section class="card wide stack" aria-labelledby="sessions-heading">
                <h2 id="sessions-heading">"Sessions"</h2>
                <Sessions sessions end_session invitee=link.email.clone() />
                <h2 id="timeline-heading">"Timeline"</h2>
                <Timeline link=trail_of events older_events />
            </section>
        </div>
    }
    .into_any()
}

fn session_label(minutes: i64) -> String {
    crate::model::sessions::SessionLifetime::ALL
        .into_iter()
        .find(|choice| choice.minutes() == minutes)
        .map_or_else(
            || format!("{minutes} minutes"),
            |choice| choice.label().to_owned(),
        )
}

#[component]
fn Sessions(
    sessions: Vec<LinkSession>,
    end_session: ServerAction<EndSession>,
    /// Whom the link is for, named by End session's confirmation.
    invitee: String,
) -> impl IntoView {
    if sessions.is_empty() {
        return view! { <p class="empty">"This link has not signed anyone in."</p> }.into_any();
    }
    view! {
        <ResponsiveTable columns=&["Started", "Last seen", "Browser", "State"]>
            {sessions.into_iter().map(|session| {
                let number = session.number.to_string();
                let live = session.ended_at.is_none();
                view! {
                    <tr>
                        <td data-label="Started"><When at=session.started_at /></td>
                        <td data-label="Last seen"><When at=session.last_seen_at /></td>
                        <td data-label="Browser" class="ua">
                            {session.user_agent.unwrap_or_else(|| "unknown".to_owned())}
                            {session.ip.map(|ip| view! { <span class="sub">{format!("from {ip}")}</span> })}
                        </td>
                        <td data-label="State">{match session.ended_at {
                            Some(ended) => view! { "Ended " <When at=ended /> }.into_any(),
                            None => view! { "Active until " <When at=session.expires_at /> }.into_any(),
                        }}</td>
                        <td class="actions">
                            {live.then(|| view! {
                                <ConfirmButton
                                    action=end_session
                                    name="session"
                                    value=number.clone()
                                    label="End session"
                                    class="danger"
                                    question=format!("End this session of {invitee}?")
                                    consequence="That browser is signed out at its next request. The link itself stays as it is."
                                    confirm="End the session"
                                />
                            })}
                        </td>
                    </tr>
                }
                .into_any()
            }).collect_view()}
        </ResponsiveTable>
    }
    .into_any()
}

/// The trail, newest first: the page `show_link` gave, then whatever "Show older" adds.
#[component]
fn Timeline(link: String, events: Vec<LinkEvent>, older_events: Option<i64>) -> impl IntoView {
    let hydrated = use_hydrated();
    let older = RwSignal::new(Vec::<LinkEvent>::new());
    let next = RwSignal::new(older_events);
    let show_older = Action::new(move |before: &i64| {
        let (link, before) = (link.clone(), before.to_string());
        async move { show_link(link, Some(before)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = show_older.value().get() {
            older.update(|events| events.extend(page.events));
            next.set(page.older_events);
        }
    });
    view! {
        <ol class="timeline" aria-labelledby="timeline-heading">
            {events.into_iter().map(|event| view! { <TimelineEntry event /> }).collect_view()}
            {move || older.get().into_iter().map(|event| view! { <TimelineEntry event /> }).collect_view()}
        </ol>
        {move || show_older.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
        {move || next.get().map(|before| view! {
            <button type="button" class="secondary"
                disabled=move || !hydrated.get() || show_older.pending().get()
                on:click=move |_| { show_older.dispatch(before); }>
                {move || if show_older.pending().get() { "Loading…" } else { "Show older" }}
            </button>
        })}
    }
}

#[component]
fn TimelineEntry(event: LinkEvent) -> impl IntoView {
    let kind_class = format!("event ev-{}", event.kind.code().replace('_', "-"));
    // "Reached Wiki": the application is the event; other details follow it.
    let what = match (event.kind, &event.detail) {
        (EventKind::Reached, Some(application)) => format!("Reached {application}"),
        (kind, _) => kind.label().to_owned(),
    };
    let mut said = Vec::new();
    if let Some(actor) = &event.actor {
        said.push(format!("by {actor}"));
    }
    if let Some(detail) = event
        .detail
        .as_ref()
        .filter(|_| event.kind != EventKind::Reached)
    {
        said.push(describe(event.kind, detail));
    }
    if let Some(ip) = &event.ip {
        said.push(format!("from {ip}"));
    }
    if event.repeats > 1 {
        let last = event
            .last_at
            .map(|at| format!(", last at {}", format_utc(at)));
        said.push(format!(
            "{} times{}",
            event.repeats,
            last.unwrap_or_default()
        ));
    }
    let other = event.other_link.map(|other| {
        let text = match event.kind {
            EventKind::Issued => format!("in place of link #{other}"),
            _ => format!("new link #{other}"),
        };
        view! { " · " <a href=format!("/dashboard/links/{other}")>{text}</a> }
    });
    view! {
        <li class=kind_class>
            <span class="what">{what}</span>
            " "
            <time title=format_utc(event.at)>{format_utc(event.at)}</time>
            {(!said.is_empty()).then(|| view! { <span class="sub">{said.join(" · ")}</span> })}
            {other}
            {event.user_agent.map(|ua| view! { <span class="sub ua">{ua}</span> })}
        </li>
    }
}

/// An event's detail in words.
fn describe(kind: EventKind, detail: &str) -> String {
    match (kind, detail) {
        (EventKind::SessionEnded, "signed_out") => "the invitee signed out".to_owned(),
        (EventKind::SessionEnded, "replaced") => {
            "the browser signed in with another link".to_owned()
        }
        (EventKind::SessionEnded, "expired") => "idle or past its lifetime".to_owned(),
        (EventKind::SessionEnded, "link_revoked") => "the link was revoked".to_owned(),
        (EventKind::SessionEnded, "ended_by_coworker") => "ended from this page".to_owned(),
        (EventKind::RedeemRefused, WRONG_CODE) => "a wrong code was typed".to_owned(),
        (EventKind::RedeemRefused, CODE_LOCKED) => {
            format!("{MAX_CODE_FAILURES} wrong codes: the code is locked, the link still works")
        }
        (EventKind::RedeemRefused, reason) => format!("link {reason}"),
        (EventKind::RenewalChanged, "allowed") => "new-link requests allowed".to_owned(),
        (EventKind::RenewalChanged, "off") => "new-link requests turned off".to_owned(),
        // AccessChanged reads as the server words it: "widened: added Grafana".
        (_, detail) => detail.to_owned(),
    }
}

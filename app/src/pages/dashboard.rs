//! `/dashboard`: coworkers issue links and watch and revoke them.

use crate::api::{
    count_links, current_user, list_applications, list_links, IssueLink, ResendLink, RevokeLink,
};
use crate::components::{
    use_hydrated, ActionButton, ApplicationBoxes, Busy, ErrorMessage, Header, Milestone,
    ResponsiveTable, RevokeButton, StateBadge,
};
use crate::model::applications::ApplicationInfo;
use crate::model::links::{
    Delivery, ExpiresIn, IssuedLink, LinkCounts, LinkPage, LinkState, LinkSummary,
};
use crate::model::sessions::{SessionLifetime, SignedIn};
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense fallback=|| view! { <main><p>"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(SignedIn::Coworker { email, is_admin, .. })) => view! { <Dashboard email is_admin /> }.into_any(),
                    Ok(_) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(error) => view! { <main><ErrorMessage error /></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Dashboard(email: String, is_admin: bool) -> impl IntoView {
    let issue = ServerAction::<IssueLink>::new();
    let revoke = ServerAction::<RevokeLink>::new();
    let resend = ServerAction::<ResendLink>::new();
    view! {
        <Header email />
        <main>
            <div class="row page-title">
                <h1>"Magic links"</h1>
                {is_admin.then(|| view! {
                    <nav class="row" aria-label="Administration">
                        <a class="nav" href="/dashboard/coworkers">"Manage coworkers"</a>
                        <a class="nav" href="/dashboard/applications">"Applications"</a>
                    </nav>
                })}
            </div>
            <div class="columns">
                <IssueForm issue />
                <LinksTable issue revoke resend />
            </div>
        </main>
    }
}

#[component]
fn IssueForm(issue: ServerAction<IssueLink>) -> impl IntoView {
    let hydrated = use_hydrated();
    let applications = Resource::new(|| (), |_| list_applications());
    // The applications ticked under "Access to"; `None` until the coworker changes the
    // default (the first registered application).
    let chosen = RwSignal::new(None::<Vec<i64>>);
    let none_chosen = move || chosen.with(|chosen| chosen.as_ref().is_some_and(Vec::is_empty));
    // After a successful issue the form starts over; after an error it keeps what was typed.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = issue.value().get() {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
            chosen.set(None);
        }
    });
    view! {
        <section class="card" aria-labelledby="issue-heading">
            <h2 id="issue-heading">"Invite someone"</h2>
            <ActionForm action=issue node_ref=form attr:class="stack">
                <label for="invitee-email">"Invitee email"</label>
                <input id="invitee-email" type="email" name="email" required maxlength="254" autocomplete="off" />
                <label for="invitee-name">"Name"</label>
                <input id="invitee-name" type="text" name="name" maxlength="100" autocomplete="off" />
                <label for="invitee-message">"Message"</label>
                <textarea id="invitee-message" name="message" rows="3" maxlength="2000"></textarea>
                <label for="expires-in">"Expires in"</label>
                <select id="expires-in" name="expires_in">
                    {ExpiresIn::ALL
                        .into_iter()
                        .map(|choice| view! {
                            <option value=choice.code() selected=choice == ExpiresIn::Hours24>{choice.label()}</option>
                        })
                        .collect_view()}
                </select>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match applications.await {
                            Ok(applications) => view! { <AccessChoice applications chosen /> }.into_any(),
                            Err(error) => view! { <ErrorMessage error /> }.into_any(),
                        }
                    })}
                </Transition>
                <details class="more-options">
                    <summary>"More options"</summary>
                    <div class="stack">
                        <label for="destination">"Destination after sign-in"</label>
                        <input id="destination" type="text" name="destination" maxlength="500" placeholder="/welcome" autocomplete="off" aria-describedby="destination-hint" />
                        <p id="destination-hint" class="hint">"A path on this site, such as /projects/42."</p>
                        <label for="session-lifetime">"Session lasts"</label>
                        <select id="session-lifetime" name="session_lifetime">
                            {SessionLifetime::ALL
                                .into_iter()
                                .map(|choice| view! {
                                    <option value=choice.code() selected=choice == SessionLifetime::DEFAULT>{choice.label()}</option>
                                })
                                .collect_view()}
                        </select>
                        <label for="renewal">"New-link requests"</label>
                        <select id="renewal" name="renewal" aria-describedby="renewal-hint">
                            <option value="allowed" selected>"Allowed"</option>
                            <option value="off">"Off"</option>
                        </select>
                        <p id="renewal-hint" class="hint">"Whether the invitee can ask for a new link once this one has expired or been used. It goes to their address only."</p>
                    </div>
                </details>
                <button type="submit" class="primary" disabled=move || !hydrated.get() || issue.pending().get() || none_chosen()>
                    {move || if issue.pending().get() { "Sending…" } else { "Send magic link" }}
                </button>
            </ActionForm>
            {move || issue.value().get().map(|result| match result {
                Ok(issued) => view! { <IssuedNotice issued /> }.into_any(),
                Err(error) => view! { <ErrorMessage error /> }.into_any(),
            })}
        </section>
    }
    .into_any()
}

/// "Access to": a box per registered application, the first ticked by default, and the
/// ticked ids in the form's `applications` field. The field is rendered on the server
/// with the default, so the form means the same before the page is hydrated. Nothing
/// at all while no application is registered (the invitation opens only Latchkey).
#[component]
fn AccessChoice(
    applications: Vec<ApplicationInfo>,
    chosen: RwSignal<Option<Vec<i64>>>,
) -> impl IntoView {
    let Some(first) = applications.first().map(|app| app.id) else {
        return ().into_any();
    };
    let ticked = move || chosen.get().unwrap_or_else(|| vec![first]);
    let value = move || join_ids(&ticked());
    view! {
        <fieldset class="access stack">
            <legend>"Access to"</legend>
            <input type="hidden" name="applications" value=value />
            <ApplicationBoxes
                applications
                initially=vec![first]
                chosen=Signal::derive(ticked)
                on_change=Callback::new(move |now| chosen.set(Some(now)))
            />
            <Show when=move || ticked().is_empty()>
                <p class="hint" role="status">"Choose at least one application."</p>
            </Show>
        </fieldset>
    }
    .into_any()
}

/// Application ids as the server functions take them: `3,1`.
pub fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The new link, shown once: it lives only in this page's memory and the email.
#[component]
pub fn IssuedNotice(issued: IssuedLink) -> impl IntoView {
    let (copied, set_copied) = signal(None::<Copied>);
    let field = NodeRef::<leptos::html::Input>::new();
    let url = issued.url.clone();
    let copy = move |_| copy_link(&url, field, set_copied);
    let delivery = match issued.delivery {
        Delivery::Failed => view! {
            <p class="error" role="alert">
                "The email to " {issued.email.clone()} " could not be delivered: "
                {issued.delivery_error.clone().unwrap_or_default()}
                " Copy the link below and send it another way, resend it later, or revoke it."
            </p>
        }
        .into_any(),
        _ => view! {
            <p role="status">"Magic link sent to " <strong>{issued.email.clone()}</strong> "."</p>
        }
        .into_any(),
    };
    view! {
        <div class="issued stack">
            {delivery}
            <label for="new-link">"New magic link (shown only now)"</label>
            <div class="row">
                <input id="new-link" type="text" readonly value=issued.url.clone() node_ref=field />
                <button type="button" class="secondary" on:click=copy>"Copy link"</button>
            </div>
            {move || {
                copied
                    .get()
                    .map(|copied| {
                        let said = match copied {
                            Copied::ToClipboard => "Copied.",
                            Copied::Selected => "Selected: press Ctrl+C (⌘C on a Mac) to copy it.",
                        };
                        view! { <p class="hint" role="status">{said}</p> }
                    })
            }}
        </div>
    }
}

/// The organisation's invitations, newest first: filtered and searched on the server,
/// a page at a time (keyset pagination), with counts per state.
#[component]
fn LinksTable(
    issue: ServerAction<IssueLink>,
    revoke: ServerAction<RevokeLink>,
    resend: ServerAction<ResendLink>,
) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    let changes = move || {
        (
            issue.version().get(),
            revoke.version().get(),
            resend.version().get(),
        )
    };
    let counts = Resource::new(changes, |_| count_links());
    let first = Resource::new(
        move || (changes(), status.get(), query.get()),
        |(_, status, query)| async move { list_links(non_empty(status), non_empty(query), None).await },
    );
    // Later pages, appended by "Show more"; any change starts over from the first page.
    let more = RwSignal::new(Vec::<LinkSummary>::new());
    let next = RwSignal::new(None::<String>);
    let load_more = Action::new(move |cursor: &String| {
        let cursor = cursor.clone();
        let (status, query) = (status.get_untracked(), query.get_untracked());
        async move { list_links(non_empty(status), non_empty(query), Some(cursor)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = first.get() {
            more.set(Vec::new());
            next.set(page.next_cursor);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = load_more.value().get() {
            more.update(|links| links.extend(page.links));
            next.set(page.next_cursor);
        }
    });
    view! {
        <section class="card wide" aria-labelledby="links-heading">
            <h2 id="links-heading">"Links"</h2>
            <div class="filters row">
                <label for="status-filter">"Show"</label>
                <select id="status-filter" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"All"</option>
                    // The counts are awaited in a boundary of their own, as every page
                    // awaits each of its resources. A resource read with `.get()` inside a
                    // `Suspense` beside resources that are awaited made Leptos' server
                    // rendering spin, or deadlock every worker thread, when dashboards were
                    // rendered concurrently (upstream: leptos issues 4578 and 4673): the
                    // whole server stopped answering, `/healthz` included. It showed up
                    // once in a Playwright run, and within seconds of loading `/dashboard`
                    // a few thousand times at 16 clients. The integration test
                    // `many_pages_rendered_at_once_all_come_back_whole` renders 5,000
                    // coworker pages 32 at a time, and 1,000 `/welcome` pages meanwhile, and
                    // fails (rather than hangs) if a page does not come back whole.
                    <Transition fallback=move || view! { <StateOptions counts=None status /> }>
                        {move || Suspend::new(async move {
                            view! { <StateOptions counts=counts.await.ok() status /> }
                        })}
                    </Transition>
                </select>
                <label for="search">"Search by email"</label>
                <input id="search" type="search" on:change=move |ev| query.set(event_target_value(&ev)) />
            </div>
            <Busy when=revoke.pending() text="Revoking…" />
            <Busy when=resend.pending() text="Sending a new link…" />
            {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
            {move || resend.value().get().map(|result| match result {
                Ok(issued) => view! { <super::dashboard::IssuedNotice issued /> }.into_any(),
                Err(error) => view! { <ErrorMessage error /> }.into_any(),
            })}
            <Transition fallback=|| view! { <p role="status">"Loading links…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(page) if page.links.is_empty() => view! { <EmptyLinks filtered=!status.get_untracked().is_empty() || !query.get_untracked().is_empty() /> }.into_any(),
                        Ok(LinkPage { links, .. }) => view! {
                            <ResponsiveTable columns=&["Invitee", "Status", "Access", "Delivery", "Issued by", "When"]>
                                {links.into_iter().map(|link| view! { <LinkRow link revoke resend /> }).collect_view()}
                                {move || more.get().into_iter().map(|link| view! { <LinkRow link revoke resend /> }).collect_view()}
                            </ResponsiveTable>
                        }.into_any(),
                        Err(error) => view! { <ErrorMessage error /> }.into_any(),
                    }
                })}
            </Transition>
            {move || next.get().map(|cursor| view! {
                <button
                    type="button"
                    class="secondary"
                    disabled=move || load_more.pending().get()
                    on:click=move |_| { load_more.dispatch(cursor.clone()); }
                >
                    {move || if load_more.pending().get() { "Loading…" } else { "Show more" }}
                </button>
            })}
            {move || load_more.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
        </section>
    }
    .into_any()
}

fn non_empty(value: String) -> Option<String> {
    (!value.trim().is_empty()).then_some(value)
}

/// The status filter's states, each with how many links are in it once that is known.
/// The one chosen stays selected when the counts change underneath it.
#[component]
fn StateOptions(counts: Option<LinkCounts>, status: RwSignal<String>) -> impl IntoView {
    LinkState::ALL
        .into_iter()
        .map(|state| {
            let (value, label) = (state.as_str(), state.label());
            let text = counts.map_or_else(
                || label.to_owned(),
                |counts| format!("{label} ({})", counts.of(state)),
            );
            view! {
                <option value=value prop:selected=move || status.get() == value>{text}</option>
            }
        })
        .collect_view()
}

#[component]
fn EmptyLinks(filtered: bool) -> impl IntoView {
    if filtered {
        view! { <p class="empty">"No links match this filter."</p> }.into_any()
    } else {
        view! { <p class="empty">"No links yet. Invite someone with the form."</p> }.into_any()
    }
}

#[component]
fn LinkRow(
    link: LinkSummary,
    revoke: ServerAction<RevokeLink>,
    resend: ServerAction<ResendLink>,
) -> impl IntoView {
    let revocable = matches!(link.state, LinkState::Pending | LinkState::Redeemed);
    let resendable = matches!(link.state, LinkState::Pending | LinkState::Expired);
    let id = link.id.to_string();
    let delivery_class = match link.delivery {
        Delivery::Failed => "delivery failed",
        _ => "delivery",
    };
    view! {
        <tr>
            <td>
                <a href=format!("/dashboard/links/{}", link.id)>{link.email.clone()}</a>
                {link.name.clone().map(|name| view! { <span class="sub">{name}</span> })}
            </td>
            // data-label: the column's name, shown beside each value where the table is
            // laid out as one block per row (narrow screens; see `table.responsive`).
            <td data-label="Status"><StateBadge state=link.state /></td>
            <td data-label="Access">{access_names(&link.applications)}</td>
            <td data-label="Delivery" class=delivery_class title=link.delivery_error.clone().unwrap_or_default()>{link.delivery.label()}</td>
            <td data-label="Issued by">{link.issued_by.clone()}</td>
            // What matters for its state: when it expires, or when it was used, expired or
            // revoked (and by whom); never the expiry of a link that can no longer be used.
            <td data-label="When"><Milestone link=link.clone() /></td>
            <td class="actions">
                {resendable.then(|| view! {
                    <ActionButton action=resend name="id" value=id.clone() label="Resend" class="secondary" />
                })}
                {revocable.then(|| view! {
                    <RevokeButton action=revoke id=id.clone() email=link.email.clone() />
                })}
            </td>
        </tr>
    }
    .into_any()
}

/// The applications a link opens, by name, or a dash for none.
pub fn access_names(names: &[String]) -> String {
    if names.is_empty() {
        "—".to_owned()
    } else {
        names.join(", ")
    }
}

/// What pressing "Copy link" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copied {
    // Only a browser (the hydrate build) reaches a clipboard.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    ToClipboard,
    /// The browser keeps its clipboard from this page (plain http on a host name is not a
    /// secure context, or it said no): the link is selected for the person to copy.
    Selected,
}

/// Puts `text` on the clipboard where the browser allows it, else selects it in `field`;
/// `said` learns which, once the browser has answered.
fn copy_link(text: &str, field: NodeRef<leptos::html::Input>, said: WriteSignal<Option<Copied>>) {
    let select = move || {
        if let Some(input) = field.get_untracked() {
            let _ = input.focus();
            input.select();
        }
        said.set(Some(Copied::Selected));
    };
    #[cfg(feature = "hydrate")]
    {
        // navigator.clipboard exists only in secure contexts: calling it elsewhere throws.
        if window().is_secure_context() {
            let promise = window().navigator().clipboard().write_text(text);
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(promise).await {
                    Ok(_) => said.set(Some(Copied::ToClipboard)),
                    Err(_) => select(),
                }
            });
            return;
        }
    }
    let _ = text;
    select();
}

//! `/dashboard`: coworkers issue links and watch and revoke them.

use crate::api::{current_user, list_links, IssueLink, RevokeLink};
use crate::components::{use_hydrated, ErrorMessage, Header};
use crate::model::{format_utc, Delivery, ExpiresIn, IssuedLink, LinkState, LinkSummary, SignedIn};
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense fallback=|| view! { <main><p>"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(SignedIn::Coworker { email, .. })) => view! { <Dashboard email /> }.into_any(),
                    Ok(_) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(error) => view! { <main><ErrorMessage error /></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Dashboard(email: String) -> impl IntoView {
    let issue = ServerAction::<IssueLink>::new();
    let revoke = ServerAction::<RevokeLink>::new();
    view! {
        <Header email />
        <main>
            <h1>"Magic links"</h1>
            <div class="columns">
                <IssueForm issue />
                <LinksTable issue revoke />
            </div>
        </main>
    }
}

#[component]
fn IssueForm(issue: ServerAction<IssueLink>) -> impl IntoView {
    let hydrated = use_hydrated();
    // After a successful issue the form starts over; after an error it keeps what was typed.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = issue.value().get() {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
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
                <button type="submit" class="primary" disabled=move || !hydrated.get() || issue.pending().get()>
                    {move || if issue.pending().get() { "Sending…" } else { "Send magic link" }}
                </button>
            </ActionForm>
            {move || issue.value().get().map(|result| match result {
                Ok(issued) => view! { <IssuedNotice issued /> }.into_any(),
                Err(error) => view! { <ErrorMessage error /> }.into_any(),
            })}
        </section>
    }
}

/// The new link, shown once: it lives only in this page's memory and the email.
#[component]
fn IssuedNotice(issued: IssuedLink) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let url = issued.url.clone();
    let copy = move |_| {
        copy_to_clipboard(&url);
        set_copied.set(true);
    };
    let delivery = match issued.delivery {
        Delivery::Failed => view! {
            <p class="error" role="alert">
                "The email to " {issued.email.clone()} " could not be delivered: "
                {issued.delivery_error.clone().unwrap_or_default()}
                " Copy the link below and send it another way, or revoke it."
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
                <input id="new-link" type="text" readonly value=issued.url.clone() />
                <button type="button" class="secondary" on:click=copy>"Copy link"</button>
            </div>
            <Show when=move || copied.get()>
                <p class="hint" role="status">"Copied."</p>
            </Show>
        </div>
    }
}

#[component]
fn LinksTable(issue: ServerAction<IssueLink>, revoke: ServerAction<RevokeLink>) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    let links = Resource::new(
        move || {
            (
                issue.version().get(),
                revoke.version().get(),
                status.get(),
                query.get(),
            )
        },
        |(_, _, status, query)| async move {
            let status = (!status.is_empty()).then_some(status);
            let query = (!query.is_empty()).then_some(query);
            list_links(status, query, None).await
        },
    );
    view! {
        <section class="card wide" aria-labelledby="links-heading">
            <h2 id="links-heading">"Links"</h2>
            <div class="filters row">
                <label for="status-filter">"Show"</label>
                <select id="status-filter" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"All"</option>
                    <option value="pending">"Pending"</option>
                    <option value="redeemed">"Redeemed"</option>
                    <option value="expired">"Expired"</option>
                    <option value="revoked">"Revoked"</option>
                </select>
                <label for="search">"Search by email"</label>
                <input id="search" type="search" on:change=move |ev| query.set(event_target_value(&ev)) />
            </div>
            {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
            <Transition fallback=|| view! { <p>"Loading links…"</p> }>
                {move || Suspend::new(async move {
                    match links.await {
                        Ok(page) if page.links.is_empty() => view! {
                            <p class="empty">"No links yet. Invite someone with the form."</p>
                        }.into_any(),
                        Ok(page) => view! {
                            <div class="table-scroll">
                                <table>
                                    <thead>
                                        <tr>
                                            <th scope="col">"Invitee"</th>
                                            <th scope="col">"Status"</th>
                                            <th scope="col">"Delivery"</th>
                                            <th scope="col">"Issued by"</th>
                                            <th scope="col">"Expires"</th>
                                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {page.links.into_iter().map(|link| view! { <LinkRow link revoke /> }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                        Err(error) => view! { <ErrorMessage error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn LinkRow(link: LinkSummary, revoke: ServerAction<RevokeLink>) -> impl IntoView {
    let hydrated = use_hydrated();
    let revocable = matches!(link.state, LinkState::Pending | LinkState::Redeemed);
    let id = link.id.to_string();
    view! {
        <tr>
            <td>
                {link.email.clone()}
                {link.name.clone().map(|name| view! { <span class="sub">{name}</span> })}
            </td>
            <td><span class=format!("badge {}", link.state.label().to_lowercase())>{link.state.label()}</span></td>
            <td title=link.delivery_error.clone().unwrap_or_default()>{link.delivery.label()}</td>
            <td>{link.issued_by.clone()}</td>
            <td><time title=format_utc(link.expires_at)>{format_utc(link.expires_at)}</time></td>
            <td>
                {revocable.then(|| view! {
                    <ActionForm action=revoke attr:class="inline">
                        <input type="hidden" name="id" value=id.clone() />
                        <button type="submit" class="danger" disabled=move || !hydrated.get() || revoke.pending().get()>
                            "Revoke"
                        </button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

//! Small pieces of UI shared by the pages.

use crate::api::SignOut;
use crate::error::AppError;
use crate::model::links::{LinkState, LinkSummary};
use leptos::prelude::*;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::request::ClientReq;
use leptos::server_fn::{Http, ServerFn};
use serde::de::DeserializeOwned;

/// False while the page is server-rendered HTML, true once the WASM app has taken over.
/// Buttons stay disabled until then, so a click never falls through to a plain form post.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// "Revoking…" and the like while an action is on its way, announced to screen readers.
#[component]
pub fn Busy(#[prop(into)] when: Signal<bool>, text: &'static str) -> impl IntoView {
    view! {
        <Show when=move || when.get()>
            <p class="busy" role="status">{text}</p>
        </Show>
    }
}

/// A button that posts one named value to a server function: Revoke, Resend, End
/// session, Deactivate. Disabled until the page is hydrated and while the action runs;
/// `pending_label`, when given, replaces the label meanwhile.
#[component]
pub fn ActionButton<S, P>(
    action: ServerAction<S>,
    /// The parameter's name, e.g. `id`.
    name: &'static str,
    value: String,
    label: &'static str,
    /// `primary`, `secondary` or `danger`.
    class: &'static str,
    #[prop(optional)] pending_label: Option<&'static str>,
) -> impl IntoView
where
    S: DeserializeOwned + ServerFn<Protocol = Http<PostUrl, P>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData:
        From<leptos::web_sys::FormData>,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    S::Client: Client<S::Error>,
{
    let hydrated = use_hydrated();
    view! {
        <ActionForm action attr:class="inline">
            <input type="hidden" name=name value=value />
            <button type="submit" class=class disabled=move || !hydrated.get() || action.pending().get()>
                {move || match pending_label {
                    Some(pending) if action.pending().get() => pending,
                    _ => label,
                }}
            </button>
        </ActionForm>
    }
}

/// A button that asks first: it opens a modal dialog (a native `<dialog>` shown with
/// `showModal()`, so the rest of the page is inert and Tab stays inside it) headed by
/// `question`, which names what is about to change, with `consequence` below it, a
/// `confirm` button that posts `name` = `value` to the server function, and Cancel.
/// Focus starts on Cancel, the harmless choice; Escape and Cancel close the dialog
/// without posting anything, and focus goes back to the button that opened it. Revoke,
/// End session, removing an application and widening a link's access use it.
#[component]
pub fn ConfirmButton<S, P>(
    action: ServerAction<S>,
    /// The parameter's name, e.g. `id`.
    name: &'static str,
    value: String,
    /// The opening button's label, e.g. "Revoke".
    label: &'static str,
    /// The opening button's class: `primary`, `secondary` or `danger`.
    class: &'static str,
    /// The dialog's heading, e.g. "Revoke the link for alice@example.com?".
    question: String,
    #[prop(into)] consequence: String,
    /// The label of the button that goes ahead, e.g. "Revoke link".
    confirm: &'static str,
    /// More fields posted with `name` = `value`, for a server function that takes
    /// several (a link's id and its new set of applications).
    #[prop(optional)]
    also: Vec<(&'static str, String)>,
) -> impl IntoView
where
    S: DeserializeOwned + ServerFn<Protocol = Http<PostUrl, P>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData:
        From<leptos::web_sys::FormData>,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    S::Client: Client<S::Error>,
{
    let hydrated = use_hydrated();
    // The dialog is in the page only while it is open: nothing of it is rendered on the
    // server or kept for every row of a table.
    let open = RwSignal::new(false);
    let opener = NodeRef::<leptos::html::Button>::new();
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let proceed = NodeRef::<leptos::html::Button>::new();
    let cancel = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(dialog) = dialog.get() {
            if !dialog.open() {
                let _ = dialog.show_modal();
                if let Some(cancel) = cancel.get_untracked() {
                    let _ = cancel.focus();
                }
            }
        }
    });
    // Once the choice is sent, the dialog has done its work.
    Effect::new(move |_| {
        if action.pending().get() {
            if let Some(dialog) = dialog.get_untracked() {
                dialog.close();
            }
        }
    });
    let close = move || {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    // Tab wraps around inside the dialog. A modal dialog makes the page behind it inert,
    // but Chromium lets Tab go on from its last button out of the page (to the browser's
    // own controls, or nowhere when headless); from the two ends it comes back instead.
    let wrap = move |from_last: bool| {
        move |ev: leptos::ev::KeyboardEvent| {
            if ev.key() == "Tab" && ev.shift_key() != from_last {
                let to = if from_last { proceed } else { cancel };
                if let Some(to) = to.get_untracked() {
                    ev.prevent_default();
                    let _ = to.focus();
                }
            }
        }
    };
    // However it closed (Cancel, Escape, or sent), focus returns to the opener.
    let closed = move |_| {
        open.set(false);
        if let Some(opener) = opener.get_untracked() {
            let _ = opener.focus();
        }
    };
    let dialog_view = move || {
        let (question, consequence, value) = (question.clone(), consequence.clone(), value.clone());
        let also = also
            .iter()
            .map(|(name, value)| view! { <input type="hidden" name=*name value=value.clone() /> })
            .collect_view();
        view! {
            <dialog
                node_ref=dialog
                class="confirm stack"
                aria-modal="true"
                aria-labelledby="confirm-question"
                aria-describedby="confirm-consequence"
                on:close=closed
            >
                <h2 id="confirm-question">{question}</h2>
                <p id="confirm-consequence">{consequence}</p>
                <ActionForm action attr:class="row confirm-choices">
                    <input type="hidden" name=name value=value />
                    {also}
                    <button type="submit" class="danger" node_ref=proceed on:keydown=wrap(false)>
                        {confirm}
                    </button>
                    <button
                        type="button"
                        class="secondary"
                        node_ref=cancel
                        on:keydown=wrap(true)
                        on:click=move |_| close()
                    >
                        "Cancel"
                    </button>
                </ActionForm>
            </dialog>
        }
    };
    view! {
        <button
            type="button"
            class=class
            node_ref=opener
            aria-haspopup="dialog"
            disabled=move || !hydrated.get() || action.pending().get()
            on:click=move |_| open.set(true)
        >
            {label}
        </button>
        {move || open.get().then(&dialog_view)}
    }
}

/// A table of rows that becomes one block per row on a narrow screen (`table.responsive`
/// in the CSS): a header per entry of `columns`, then a last, visually hidden "Actions"
/// header over each row's buttons. `children` are the rows; their cells carry
/// `data-label` (the column's name, shown beside the value in the narrow layout) and the
/// last one `class="actions"`. Links, sessions and coworkers use it.
#[component]
pub fn ResponsiveTable(
    /// The column headers, without the last "Actions".
    columns: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="responsive">
                <thead>
                    <tr>
                        {columns.iter().map(|column| view! { <th scope="col">{*column}</th> }).collect_view()}
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}

/// An error in words, announced to screen readers.
/// A checkbox per application, for choosing which ones an invitation opens. `chosen` is
/// the ticked ids; `initially` those the server renders ticked (so the page reads right
/// before it hydrates); a change hands the new set to `on_change`.
#[component]
pub fn ApplicationBoxes(
    applications: Vec<crate::model::applications::ApplicationInfo>,
    initially: Vec<i64>,
    #[prop(into)] chosen: Signal<Vec<i64>>,
    on_change: Callback<Vec<i64>>,
) -> impl IntoView {
    applications
        .into_iter()
        .map(|app| {
            let id = app.id;
            view! {
                <label class="check">
                    <input
                        type="checkbox"
                        value=id.to_string()
                        checked=initially.contains(&id)
                        prop:checked=move || chosen.with(|chosen| chosen.contains(&id))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            let mut now = chosen.get_untracked();
                            now.retain(|&other| other != id);
                            if on {
                                now.push(id);
                            }
                            on_change.run(now);
                        }
                    />
                    {app.name}
                </label>
            }
        })
        .collect_view()
}

/// An admins-only page: loads the caller, renders `page` with an admin's address, says
/// "Forbidden" (under the page's `title`) to a coworker who is not an admin, and sends
/// anyone else to `/login`.
#[component]
pub fn AdminPage<V>(title: &'static str, page: fn(String) -> V) -> impl IntoView
where
    V: IntoView + 'static,
{
    use crate::api::current_user;
    use crate::model::sessions::SignedIn;
    use leptos_router::components::{Redirect, A};
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense fallback=|| view! { <main><p role="status">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(SignedIn::Coworker { email, is_admin: true, .. })) => page(email).into_any(),
                    Ok(Some(SignedIn::Coworker { email, .. })) => view! {
                        <Header email />
                        <main class="narrow">
                            <h1>{title}</h1>
                            <ErrorMessage error=AppError::Forbidden />
                            <p><A href="/dashboard">"← All links"</A></p>
                        </main>
                    }.into_any(),
                    Ok(_) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(error) => view! { <main><ErrorMessage error /></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn ErrorMessage(error: AppError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}

/// The page header with the product name and, when signed in, who and a "Sign out" button.
#[component]
pub fn Header(
    #[prop(optional, into)] email: Option<String>,
    #[prop(optional)] after_sign_out: Option<&'static str>,
) -> impl IntoView {
    view! {
        <header class="topbar">
            <span class="brand">"Latchkey"</span>
            {email.map(|email| view! {
                <span class="who">{email}</span>
                <SignOutButton go_to=after_sign_out.unwrap_or("/login") />
            })}
        </header>
    }
}

/// Ends the session on the server, then leaves for `go_to` (a path, or an address the
/// server called safe to send the browser to).
#[component]
pub fn SignOutButton(
    #[prop(into)] go_to: String,
    /// `secondary` (the default) or `primary`, where signing out is the page's purpose.
    #[prop(default = "secondary")]
    class: &'static str,
) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let hydrated = use_hydrated();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            navigate_hard(&go_to);
        }
    });
    view! {
        <ActionForm action=sign_out attr:class="inline">
            <button type="submit" class=class disabled=move || !hydrated.get() || sign_out.pending().get()>
                "Sign out"
            </button>
        </ActionForm>
        {move || sign_out.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
    }
}

/// A full page load, so the next page is rendered for the browser's new session.
pub fn navigate_hard(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Now, in unix seconds, on the server or in the browser.
pub fn now_secs() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (web_sys::js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// Revoke, asking first: the one wording of what revoking does, for the links table and
/// a link's page alike.
#[component]
pub fn RevokeButton(
    action: ServerAction<crate::api::RevokeLink>,
    /// The link's id.
    id: String,
    /// Whom the link is for, named in the question.
    email: String,
) -> impl IntoView {
    view! {
        <ConfirmButton
            action
            name="id"
            value=id
            label="Revoke"
            class="danger"
            question=format!("Revoke the link for {email}?")
            consequence="The link stops working at once, and anyone it signed in is signed out. This cannot be undone."
            confirm="Revoke link"
        />
    }
}

/// A time as "in 3 hours", with the exact UTC time on hover and for machines.
#[component]
pub fn When(at: i64) -> impl IntoView {
    let exact = crate::model::times::format_utc(at);
    view! {
        <time datetime=exact.replace(" UTC", "Z").replacen(' ', "T", 1) title=exact.clone()>
            {crate::model::times::relative_time(at, now_secs())}
        </time>
    }
}

/// A link's state as a coloured badge (its CSS class is the state's wire name).
#[component]
pub fn StateBadge(state: LinkState) -> impl IntoView {
    view! { <span class=format!("badge {}", state.as_str())>{state.label()}</span> }
}

/// The moment that matters for a link's state, in words: "Expires in 23 hours", "Used 5
/// minutes ago", "Expired 2 days ago", "Revoked just now by Carol".
#[component]
pub fn Milestone(link: LinkSummary) -> impl IntoView {
    let (word, at) = link.milestone();
    let by = match link.state {
        LinkState::Revoked => link.revoked_by.map(|who| format!(" by {who}")),
        _ => None,
    };
    view! { {word} " " <When at /> {by} }
}

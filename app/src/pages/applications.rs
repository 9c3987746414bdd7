//! `/dashboard/applications`: admins register the applications behind the gate and
//! remove them. Removing one takes it away from every session at once.

use crate::api::{list_applications, AddApplication, RemoveApplication};
use crate::components::{
    use_hydrated, AdminPage, Busy, ConfirmButton, ErrorMessage, Header, ResponsiveTable,
};
use crate::error::AppError;
use crate::model::applications::ApplicationInfo;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    view! { <AdminPage title="Applications" page=|email| view! { <Applications email /> } /> }
}

#[component]
fn Applications(email: String) -> impl IntoView {
    let hydrated = use_hydrated();
    let add = ServerAction::<AddApplication>::new();
    let remove = ServerAction::<RemoveApplication>::new();
    let applications = Resource::new(
        move || (add.version().get(), remove.version().get()),
        |_| list_applications(),
    );
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
        }
    });
    // A refusal of one field is shown under that field; anything else above the form.
    let refusal = move |field: &'static str| {
        move || match add.value().get() {
            Some(Err(AppError::InvalidInput { field: f, message })) if f == field => Some(message),
            _ => None,
        }
    };
    let other_error = move || match add.value().get() {
        Some(Err(AppError::InvalidInput { field, .. })) if field == "name" || field == "url" => {
            None
        }
        Some(Err(error)) => Some(error),
        _ => None,
    };
    view! {
        <Header email />
        <main>
            <p><A href="/dashboard">"← All links"</A></p>
            <h1>"Applications"</h1>
            <p class="lead">
                "The applications Latchkey stands in front of. An invitation opens the ones chosen for it; coworkers reach them all."
            </p>
            <div class="columns">
                <section class="card" aria-labelledby="add-heading">
                    <h2 id="add-heading">"Add an application"</h2>
                    <ActionForm action=add node_ref=form attr:class="stack">
                        <label for="application-name">"Name"</label>
                        <input
                            id="application-name"
                            type="text"
                            name="name"
                            required
                            maxlength="100"
                            autocomplete="off"
                            aria-invalid=move || refusal("name")().map(|_| "true")
                            aria-describedby=move || refusal("name")().map(|_| "application-name-error")
                        />
                        {move || refusal("name")().map(|message| view! {
                            <p id="application-name-error" class="field-error" role="alert">{message}</p>
                        })}
                        <label for="application-url">"Base URL"</label>
                        <input
                            id="application-url"
                            type="text"
                            inputmode="url"
                            name="url"
                            required
                            maxlength="4096"
                            autocomplete="off"
                            placeholder="https://wiki.example.com"
                            aria-invalid=move || refusal("url")().map(|_| "true")
                            aria-describedby=move || {
                                if refusal("url")().is_some() {
                                    "application-url-error application-url-hint"
                                } else {
                                    "application-url-hint"
                                }
                            }
                        />
                        <p id="application-url-hint" class="hint">
                            "Every address that starts with it is inside the application, like https://wiki.example.com or https://tools.example.com/grafana."
                        </p>
                        {move || refusal("url")().map(|message| view! {
                            <p id="application-url-error" class="field-error" role="alert">{message}</p>
                        })}
                        <button type="submit" class="primary" disabled=move || !hydrated.get() || add.pending().get()>
                            {move || if add.pending().get() { "Adding…" } else { "Add application" }}
                        </button>
                    </ActionForm>
                    {move || other_error().map(|error| view! { <ErrorMessage error /> })}
                    {move || add.value().get().and_then(Result::ok).map(|added| view! {
                        <p class="notice" role="status">"Added " {added.name} " at " {added.url} "."</p>
                    })}
                </section>
                <section class="card wide" aria-labelledby="registered-heading">
                    <h2 id="registered-heading">"Registered"</h2>
                    <Busy when=remove.pending() text="Removing…" />
                    {move || remove.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
                    <Transition fallback=|| view! { <p role="status">"Loading applications…"</p> }>
                        {move || Suspend::new(async move {
                            match applications.await {
                                Ok(list) if list.is_empty() => view! {
                                    <p class="empty">"No application is registered yet. Add the first with the form."</p>
                                }.into_any(),
                                Ok(list) => view! { <Registered list remove /> }.into_any(),
                                Err(error) => view! { <ErrorMessage error /> }.into_any(),
                            }
                        })}
                    </Transition>
                </section>
            </div>
        </main>
    }
    .into_any()
}

#[component]
fn Registered(
    list: Vec<ApplicationInfo>,
    remove: ServerAction<RemoveApplication>,
) -> impl IntoView {
    view! {
        <ResponsiveTable columns=&["Application", "Base URL"]>
            {list.into_iter().map(|app| view! {
                <tr>
                    <td>{app.name.clone()}</td>
                    <td data-label="Base URL" class="url"><code>{app.url.clone()}</code></td>
                    <td class="actions">
                        <ConfirmButton
                            action=remove
                            name="name"
                            value=app.name.clone()
                            label="Remove"
                            class="danger"
                            question=format!("Remove {}?", app.name)
                            consequence=format!(
                                "Sessions lose access to {} at once, and the invitations that opened it no longer do.",
                                app.name
                            )
                            confirm="Remove application"
                        />
                    </td>
                </tr>
            }).collect_view()}
        </ResponsiveTable>
    }
}

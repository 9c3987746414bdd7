//! `/dashboard/coworkers`: admins add coworkers, change their role and deactivate them.
//! Deactivating ends every session the coworker has and stops their sign-in links. The
//! organisation always keeps one active admin.

use crate::api::{list_coworkers, AddCoworker, DeactivateCoworker, SetCoworkerRole};
use crate::components::{
    use_hydrated, ActionButton, AdminPage, Busy, ErrorMessage, Header, ResponsiveTable, When,
};
use crate::model::coworkers::CoworkerInfo;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn CoworkersPage() -> impl IntoView {
    view! { <AdminPage title="Coworkers" page=|email| view! { <Coworkers email /> } /> }
}

#[component]
fn Coworkers(email: String) -> impl IntoView {
    let hydrated = use_hydrated();
    let add = ServerAction::<AddCoworker>::new();
    let deactivate = ServerAction::<DeactivateCoworker>::new();
    let set_role = ServerAction::<SetCoworkerRole>::new();
    let coworkers = Resource::new(
        move || {
            (
                add.version().get(),
                deactivate.version().get(),
                set_role.version().get(),
            )
        },
        |_| list_coworkers(),
    );
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = add.value().get() {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
        }
    });
    let me = email.clone();
    view! {
        <Header email />
        <main>
            <p><A href="/dashboard">"← All links"</A></p>
            <h1>"Coworkers"</h1>
            <div class="columns">
                <section class="card" aria-labelledby="add-heading">
                    <h2 id="add-heading">"Add a coworker"</h2>
                    <ActionForm action=add node_ref=form attr:class="stack">
                        <label for="coworker-email">"Coworker email"</label>
                        <input id="coworker-email" type="email" name="email" required maxlength="254" autocomplete="off" />
                        <label for="coworker-name">"Full name"</label>
                        <input id="coworker-name" type="text" name="name" maxlength="100" autocomplete="off" />
                        <label for="coworker-role">"Role"</label>
                        <select id="coworker-role" name="role">
                            <option value="coworker" selected>"Coworker"</option>
                            <option value="admin">"Admin"</option>
                        </select>
                        <button type="submit" class="primary" disabled=move || !hydrated.get() || add.pending().get()>
                            {move || if add.pending().get() { "Adding…" } else { "Add coworker" }}
                        </button>
                    </ActionForm>
                    {move || add.value().get().map(|result| match result {
                        Ok(()) => view! { <p class="notice" role="status">"Added. They can now sign in at /login with their address."</p> }.into_any(),
                        Err(error) => view! { <ErrorMessage error /> }.into_any(),
                    })}
                </section>
                <section class="card wide" aria-labelledby="people-heading">
                    <h2 id="people-heading">"People"</h2>
                    <Busy when=deactivate.pending() text="Deactivating…" />
                    <Busy when=set_role.pending() text="Changing the role…" />
                    {move || deactivate.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
                    {move || set_role.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
                    <Transition fallback=|| view! { <p role="status">"Loading coworkers…"</p> }>
                        {
                            let me = me.clone();
                            move || {
                                let me = me.clone();
                                Suspend::new(async move {
                                    match coworkers.await {
                                        Ok(people) => view! { <People people me deactivate set_role /> }.into_any(),
                                        Err(error) => view! { <ErrorMessage error /> }.into_any(),
                                    }
                                })
                            }
                        }
                    </Transition>
                </section>
            </div>
        </main>
    }
    .into_any()
}

#[component]
fn People(
    people: Vec<CoworkerInfo>,
    me: String,
    deactivate: ServerAction<DeactivateCoworker>,
    set_role: ServerAction<SetCoworkerRole>,
) -> impl IntoView {
    let hydrated = use_hydrated();
    view! {
        <ResponsiveTable columns=&["Coworker", "Role", "Added", "State"]>
            {people.into_iter().map(|person| {
                let active = person.deactivated_at.is_none();
                let can_deactivate = active && person.email != me;
                let id = person.id.to_string();
                let (new_role, role_label) = if person.is_admin {
                    ("coworker", "Make coworker")
                } else {
                    ("admin", "Make admin")
                };
                view! {
                    <tr>
                        <td>
                            {person.email.clone()}
                            {person.name.clone().map(|name| view! { <span class="sub">{name}</span> })}
                        </td>
                        <td data-label="Role">{if person.is_admin { "Admin" } else { "Coworker" }}</td>
                        <td data-label="Added"><When at=person.created_at /></td>
                        <td data-label="State">{match person.deactivated_at {
                            Some(at) => view! { "Deactivated " <When at /> }.into_any(),
                            None => view! { "Active" }.into_any(),
                        }}</td>
                        <td class="actions">
                            {active.then(|| {
                                let id = id.clone();
                                view! {
                                <ActionForm action=set_role attr:class="inline">
                                    <input type="hidden" name="id" value=id />
                                    <input type="hidden" name="role" value=new_role />
                                    <button type="submit" class="secondary" disabled=move || !hydrated.get() || set_role.pending().get()>
                                        {role_label}
                                    </button>
                                </ActionForm>
                            }})}
                            {can_deactivate.then(|| view! {
                                <ActionButton action=deactivate name="id" value=id.clone() label="Deactivate" class="danger" />
                            })}
                        </td>
                    </tr>
                }
                .into_any()
            }).collect_view()}
        </ResponsiveTable>
    }
}

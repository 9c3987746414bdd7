//! The Access section of a link's page: the applications an invitation opens, and
//! narrowing (saved at once) or widening it (asked first).

use crate::api::SetLinkAccess;
use crate::components::{use_hydrated, ApplicationBoxes, ConfirmButton, ErrorMessage};
use crate::error::AppError;
use crate::model::applications::ApplicationInfo;
use crate::pages::dashboard::join_ids;
use leptos::prelude::*;

/// The applications the link opens, and the choice of them: every registered
/// application with a box, and "Save access". Adding any asks first, naming what the
/// invitee will also reach; taking some away saves at once.
#[component]
pub fn Access(
    id: String,
    /// The invitee, by name or address, as the widening question names them.
    who: String,
    opens: Vec<ApplicationInfo>,
    all: Resource<Result<Vec<ApplicationInfo>, AppError>>,
    set_access: ServerAction<SetLinkAccess>,
) -> impl IntoView {
    let current: Vec<i64> = opens.iter().map(|app| app.id).collect();
    let opened = if opens.is_empty() {
        view! { <p class="empty">"This invitation opens no application."</p> }.into_any()
    } else {
        view! {
            <ul class="applications" aria-label="Opens">
                {opens.into_iter().map(|app| view! {
                    <li>
                        <a href=app.url.clone()>{app.name}</a>
                        <span class="sub">{app.url}</span>
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section class="card stack" aria-labelledby="access-heading">
            <h2 id="access-heading">"Access"</h2>
            {opened}
            <Transition fallback=|| view! { <p role="status">"Loading applications…"</p> }>
                {move || {
                    let (id, who, current) = (id.clone(), who.clone(), current.clone());
                    Suspend::new(async move {
                        match all.await {
                            Ok(all) if all.is_empty() => view! {
                                <p class="hint">"No application is registered yet."</p>
                            }.into_any(),
                            Ok(all) => view! { <AccessForm id who current all set_access /> }.into_any(),
                            Err(error) => view! { <ErrorMessage error /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn AccessForm(
    id: String,
    who: String,
    /// The ids the link opens now.
    current: Vec<i64>,
    all: Vec<ApplicationInfo>,
    set_access: ServerAction<SetLinkAccess>,
) -> impl IntoView {
    let hydrated = use_hydrated();
    let chosen = RwSignal::new(current.clone());
    let names: Vec<(i64, String)> = all.iter().map(|app| (app.id, app.name.clone())).collect();
    let boxes = view! {
        <ApplicationBoxes
            applications=all
            initially=current.clone()
            chosen=chosen
            on_change=Callback::new(move |now| chosen.set(now))
        />
    };
    let save = move || {
        let id = id.clone();
        let chosen = chosen.get();
        let value = join_ids(&chosen);
        let added: Vec<String> = names
            .iter()
            .filter(|(app, _)| chosen.contains(app) && !current.contains(app))
            .map(|(_, name)| name.clone())
            .collect();
        let changed = !added.is_empty() || current.iter().any(|app| !chosen.contains(app));
        if added.is_empty() {
            view! {
                <ActionForm action=set_access attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="applications" value=value />
                    <button type="submit" class="primary" disabled=move || !hydrated.get() || !changed || set_access.pending().get()>
                        "Save access"
                    </button>
                </ActionForm>
            }
            .into_any()
        } else {
            let added = and_list(&added);
            view! {
                <ConfirmButton
                    action=set_access
                    name="id"
                    value=id
                    also=vec![("applications", value)]
                    label="Save access"
                    class="primary"
                    question=format!("Widen access: {who} will also reach {added}")
                    consequence=format!(
                        "Every session this invitation opened can reach {added} from its next request. The change goes on the timeline."
                    )
                    confirm="Widen access"
                />
            }
            .into_any()
        }
    };
    view! {
        <fieldset class="access stack">
            <legend>"Applications it opens"</legend>
            {boxes}
        </fieldset>
        <div class="row">{save}</div>
    }
}

/// "Wiki", "Wiki and Grafana", "Wiki, Grafana and Jira".
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

//! `/welcome`: where an invitee lands after signing in, with the applications their
//! session opens; and where the gate sends them once it has ended (`?rd=` names the
//! application they were on).

use crate::api::{current_user, my_applications};
use crate::components::{ErrorMessage, Header, SignOutButton};
use crate::model::sessions::SignedIn;
use crate::query::use_return_address;
use leptos::prelude::*;

#[component]
pub fn WelcomePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense fallback=|| view! { <main class="narrow"><p>"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(SignedIn::Invitee { email, name, inviter_name, inviter_email, message })) => view! {
                        <Header />
                        <main class="narrow">
                            <h1>"Welcome" {name.map(|name| format!(", {name}"))}</h1>
                            <div class="card stack">
                                <p>"Signed in as " <strong>{email}</strong></p>
                                <p>"Invited by " {inviter_name} " (" {inviter_email} ")"</p>
                                {message.map(|message| view! {
                                    <figure class="message">
                                        <figcaption>"Their message:"</figcaption>
                                        <blockquote>{message}</blockquote>
                                    </figure>
                                })}
                                <YourApplications />
                                <SignOutButton go_to="/welcome" />
                            </div>
                        </main>
                    }.into_any(),
                    Ok(Some(SignedIn::Coworker { email, .. })) => view! {
                        <Header />
                        <main class="narrow">
                            <h1>"Welcome"</h1>
                            <div class="card stack">
                                <p>"Signed in as " <strong>{email}</strong></p>
                                <p><a href="/dashboard">"Go to the dashboard"</a></p>
                                <SignOutButton go_to="/login" />
                            </div>
                        </main>
                    }.into_any(),
                    Ok(None) => view! {
                        <Header />
                        <main class="narrow">
                            <h1>"You are not signed in"</h1>
                            <SessionEnded />
                        </main>
                    }.into_any(),
                    Err(error) => view! {
                        <Header />
                        <main class="narrow"><ErrorMessage error /></main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The applications this browser's session opens, as links.
#[component]
fn YourApplications() -> impl IntoView {
    let applications = Resource::new(|| (), |_| my_applications());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match applications.await {
                    Ok(list) if list.is_empty() => ().into_any(),
                    Ok(list) => view! {
                        <h2 id="your-applications">"Your applications"</h2>
                        <ul class="applications" aria-labelledby="your-applications">
                            {list.into_iter().map(|app| view! {
                                <li><a href=app.url>{app.name}</a></li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// "Your Wiki session has ended", when the gate sent the browser here from an
/// application (`?rd=`); the application is named only when `rd` is one Latchkey knows.
#[component]
fn SessionEnded() -> impl IntoView {
    let back = use_return_address();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let session = match back.await.application {
                    Some(name) => format!("Your {name} session has ended."),
                    None => "Your session has ended.".to_owned(),
                };
                view! {
                    <p class="lead">
                        {session} " To get back in, ask the person who invited you for a new link."
                    </p>
                }
            })}
        </Suspense>
    }
}

//! `/welcome`: where an invitee lands after signing in.

use crate::api::current_user;
use crate::components::{ErrorMessage, Header, SignOutButton};
use crate::model::SignedIn;
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
                            <p class="lead">
                                "Your session has ended. To get back in, ask the person who invited you for a new link."
                            </p>
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

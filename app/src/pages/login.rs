//! `/login`: a coworker asks for a sign-in link.

use crate::api::RequestSignin;
use crate::components::{use_hydrated, ErrorMessage, Header};
use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    let request = ServerAction::<RequestSignin>::new();
    let hydrated = use_hydrated();

    view! {
        <Header />
        <main class="narrow">
            <h1>"Sign in to Latchkey"</h1>
            <p class="lead">"Coworkers sign in with a one-time link sent to their work address."</p>
            <ActionForm action=request attr:class="card stack">
                <label for="login-email">"Email"</label>
                <input id="login-email" type="email" name="email" required autocomplete="email" maxlength="254" />
                <button type="submit" disabled=move || !hydrated.get() || request.pending().get()>
                    {move || if request.pending().get() { "Sending…" } else { "Send sign-in link" }}
                </button>
            </ActionForm>
            {move || request.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
            <Show when=move || request.value().get().is_some_and(|r| r.is_ok())>
                <p class="notice" role="status">
                    "Check your inbox. If that address belongs to a coworker, a sign-in link is on its way. "
                    "It works once and expires after a few minutes."
                </p>
            </Show>
        </main>
    }
}

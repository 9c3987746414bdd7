//! `/login`: a coworker asks for a sign-in link. `?rd=` (set by the gate in front of an
//! application) is where the emailed link returns to after Continue.

use crate::api::RequestSignin;
use crate::components::{use_hydrated, ErrorMessage, Header};
use crate::model::applications::ReturnAddress;
use crate::query::use_return_address;
use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    let request = ServerAction::<RequestSignin>::new();
    let hydrated = use_hydrated();
    // Where the sign-in returns to, when the server calls `rd` a safe place for that.
    let back = use_return_address();

    view! {
        <Header />
        <main class="narrow">
            <h1>"Sign in to Latchkey"</h1>
            <p class="lead">"Coworkers sign in with a one-time link sent to their work address."</p>
            <ActionForm action=request attr:class="card stack">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move { view! { <ReturnNotice back=back.await /> } })}
                </Suspense>
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

/// "After signing in you go back to Wiki", and the form's `rd` field; nothing for an
/// address Latchkey would not send a browser to.
#[component]
fn ReturnNotice(back: ReturnAddress) -> impl IntoView {
    let ReturnAddress { url, application } = back;
    url.map(|url| {
        let place = match application {
            Some(name) => view! { <strong>{name}</strong> }.into_any(),
            None => view! { "the page you asked for" }.into_any(),
        };
        view! {
            <input type="hidden" name="rd" value=url />
            <p class="return-to">"After signing in, the link takes you back to " {place} "."</p>
        }
    })
}

//! `/code`: the way in from another device. Every mailed link comes with a one-time code;
//! here a person types the address the mail went to and that code, and Continue signs
//! this browser in exactly as the link would. The form is plain HTML (`POST /code`): it
//! works before, and without, the WASM. A refusal comes back as this page with the reason
//! and the address filled in ([`FormAnswer::CodeRefused`]).

use crate::answer::{form_answer, FormAnswer};
use crate::components::{ErrorMessage, Header};
use leptos::prelude::*;

#[component]
pub fn CodePage() -> impl IntoView {
    let (error, email) = match form_answer() {
        Some(FormAnswer::CodeRefused { error, email }) => (Some(error), email),
        _ => (None, String::new()),
    };
    view! {
        <Header />
        <main class="narrow">
            <h1>"Sign in with a code"</h1>
            <p class="lead">
                "Opened the mail on another device? Type the address it was sent to and the code it shows."
            </p>
            <form method="post" action="/code" class="card stack">
                {error.map(|error| view! { <ErrorMessage error /> })}
                <label for="code-email">"Email address"</label>
                <input
                    id="code-email"
                    type="email"
                    name="email"
                    required
                    autocomplete="email"
                    maxlength="254"
                    value=email
                />
                <label for="code-code">"Code"</label>
                <input
                    id="code-code"
                    class="code"
                    name="code"
                    required
                    autocomplete="one-time-code"
                    autocapitalize="characters"
                    spellcheck="false"
                    maxlength="16"
                    placeholder="ABCD-EFGH"
                    aria-describedby="code-hint"
                />
                <p id="code-hint" class="hint">"8 letters and digits, in the mail below the link."</p>
                <button type="submit" class="primary wide">"Continue"</button>
            </form>
            <p class="hint">"The code works once, like the link in the same mail: either one signs you in, and then both are used."</p>
        </main>
    }
}

//! `/link`: the landing page of every magic link.
//!
//! The token arrives in the URL fragment, which browsers never send to a server. Continue
//! is a plain HTML form (`POST /link`) that works as soon as the page's HTML is there: a
//! few lines of inline script (`link.js`, allowed by the page's CSP nonce) move the token
//! from the fragment into the form and take it out of the address bar and the session
//! history, so a shared screen, a synced tab or a restored session never shows a live
//! token. The server redeems it and redirects, or renders this page again with its
//! answer ([`FormAnswer`]). "Send me a new link" is a form too (`POST /link/renew`).
//!
//! When the WASM arrives it only adds what needs no click: it looks at the link (which
//! consumes nothing, so mail scanners that open the page use nothing up) and shows who it
//! is for, or why it cannot be used before Continue is pressed.

use crate::answer::{form_answer, FormAnswer};
use crate::api::peek_link;
use crate::components::Header;
use crate::error::AppError;
use crate::model::links::{LinkPreview, Purpose};
use leptos::prelude::*;
use leptos_meta::Meta;

/// Moves the token into the Continue form; see the file for what else it does.
const MOVE_TOKEN: &str = include_str!("link.js");

#[component]
pub fn LinkPage() -> impl IntoView {
    let body = match form_answer() {
        Some(FormAnswer::LinkRefused { error, renewal }) => view! {
            <Refused error renewable=renewal.is_some() />
            {renewal.map(|token| view! { <RenewalForm token=token.0 /> })}
        }
        .into_any(),
        Some(FormAnswer::Leaving { url }) => {
            let refresh = format!("0;url={url}");
            let href = url.clone();
            view! {
                <Meta http_equiv="refresh" content=refresh />
                <h1>"You are signed in"</h1>
                <p class="lead">
                    "Taking you there now. If nothing happens, " <a href=href>"continue to " {url}</a> "."
                </p>
            }
            .into_any()
        }
        Some(FormAnswer::Renewed { sent_to }) => view! {
            <h1>"A new link is on its way"</h1>
            <p class="notice" role="status">
                "A new link is on its way to " <strong>{sent_to}</strong> ". It may take a minute to arrive."
            </p>
        }
        .into_any(),
        _ => view! { <Arrival /> }.into_any(),
    };
    view! {
        <Header />
        <main class="narrow">{body}</main>
    }
}

/// The page as the link opens it: the Continue form, and what the WASM learns about the
/// link once it has loaded.
#[component]
fn Arrival() -> impl IntoView {
    let token_field = NodeRef::<leptos::html::Input>::new();
    // None until the browser has hydrated; never set during server rendering.
    let token = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(field) = token_field.get() {
            token.set(Some(field.value()));
        }
    });

    let preview = LocalResource::new(move || {
        let token = token.get();
        async move {
            match token {
                None => None,
                Some(token) if token.is_empty() => Some(Err(AppError::LinkUnknown)),
                Some(token) => Some(peek_link(token).await),
            }
        }
    });
    let refused = move || match preview.get() {
        Some(Some(Err(_))) => true,
        Some(Some(Ok(preview))) => AppError::refusal(preview.state).is_some(),
        _ => false,
    };

    view! {
        {move || match preview.get() {
            None | Some(None) => view! {
                <h1>"Continue to sign in"</h1>
                <p class="lead">"The link works once. Press Continue to sign in on this browser."</p>
            }.into_any(),
            Some(Some(Err(error))) => view! { <Refused error /> }.into_any(),
            Some(Some(Ok(preview))) => match AppError::refusal(preview.state) {
                Some(error) if preview.can_renew => view! {
                    <Refused error renewable=true />
                    <RenewalForm token=token.get_untracked().unwrap_or_default() />
                }.into_any(),
                Some(error) => view! { <Refused error /> }.into_any(),
                None => view! { <Offer preview /> }.into_any(),
            },
        }}
        <form id="continue" method="post" action="/link" hidden=refused>
            <input type="hidden" name="token" node_ref=token_field />
            <button type="submit" class="primary wide">"Continue"</button>
        </form>
        <script nonce=leptos::nonce::use_nonce() inner_html=MOVE_TOKEN></script>
    }
}

/// What the holder of a live link is about to do.
#[component]
fn Offer(preview: LinkPreview) -> impl IntoView {
    let LinkPreview {
        purpose,
        email,
        inviter_name,
        inviter_email,
        ..
    } = preview;
    let intro = match purpose {
        Purpose::Invite => view! {
            <p>"You were invited by " <strong>{inviter_name}</strong> " (" {inviter_email} ")."</p>
        }
        .into_any(),
        Purpose::Signin => {
            view! { <p>"This link signs you in to the Latchkey dashboard."</p> }.into_any()
        }
    };
    view! {
        <h1>"Continue as " {email.clone()}</h1>
        <div class="card stack">
            <p>"This link is for " <strong>{email}</strong> "."</p>
            {intro}
            <p class="hint">"The link works once. Press Continue to sign in on this browser."</p>
        </div>
    }
}

/// The specific reason a link cannot be used, with what to do next: `renewable` when
/// the page goes on to offer "Send me a new link".
#[component]
fn Refused(error: AppError, #[prop(optional)] renewable: bool) -> impl IntoView {
    let advice = match error {
        AppError::LinkUsed | AppError::LinkExpired if renewable => {
            "You can have a new one sent to you."
        }
        AppError::LinkUsed
        | AppError::LinkExpired
        | AppError::LinkRevoked
        | AppError::LinkUnknown => "Ask the person who sent it for a new link.",
        AppError::RateLimited { .. } => "Wait a little and try again.",
        _ => "Please try again in a moment.",
    };
    view! {
        <h1>{error.to_string()}</h1>
        <p class="lead">{advice}</p>
    }
}

/// "Send me a new link": a fresh link goes to the invitation's own address.
#[component]
fn RenewalForm(token: String) -> impl IntoView {
    view! {
        <p>"The new link goes to the address this invitation was sent to, and the person who invited you is told."</p>
        <form method="post" action="/link/renew">
            <input type="hidden" name="token" value=token />
            <button type="submit" class="primary wide">"Send me a new link"</button>
        </form>
    }
}

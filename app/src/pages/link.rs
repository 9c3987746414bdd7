//! `/link`: the landing page of every magic link.
//!
//! The token arrives in the URL fragment, which browsers never send to a server. The page
//! reads it in the browser, shows who the link is for (looking consumes nothing, so mail
//! scanners that open the page use nothing up), and redeems it only when the person
//! presses "Continue". The page takes the token out of the address bar and the session
//! history as soon as it has read it, and keeps it in memory until then: a shared
//! screen, a synced tab or a restored session never shows a live token.

use crate::api::{peek_link, RedeemLink, RenewLink};
use crate::components::{navigate_hard, ErrorMessage, Header};
use crate::error::AppError;
use crate::model::{LinkPreview, Purpose};
use leptos::prelude::*;

#[component]
pub fn LinkPage() -> impl IntoView {
    // None until the browser has read the fragment; never set during server rendering.
    // Read once, then taken out of the URL at once: from here on it lives only here.
    let token = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        token.set(Some(read_fragment()));
        forget_token();
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

    let redeem = ServerAction::<RedeemLink>::new();
    Effect::new(move |_| {
        if let Some(Ok(redeemed)) = redeem.value().get() {
            navigate_hard(&redeemed.redirect_to);
        }
    });

    let on_continue = move |_| {
        if let Some(token) = token.get_untracked() {
            redeem.dispatch(RedeemLink { token });
        }
    };

    view! {
        <Header />
        <main class="narrow">
            {move || match preview.get() {
                None | Some(None) => view! { <p class="lead" role="status">"Checking your link…"</p> }.into_any(),
                Some(Some(Err(error))) => view! { <Refused error /> }.into_any(),
                Some(Some(Ok(preview))) => match preview.state.refusal() {
                    Some(error) if preview.can_renew => view! {
                        <Refused error renewable=true />
                        <Renewal token=token.get_untracked().unwrap_or_default() />
                    }.into_any(),
                    Some(error) => view! { <Refused error /> }.into_any(),
                    None => view! {
                        <Offer preview />
                        {move || redeem.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
                        <button
                            type="button"
                            class="primary wide"
                            on:click=on_continue
                            disabled=move || redeem.pending().get() || redeem.value().get().is_some_and(|r| r.is_ok())
                        >
                            "Continue"
                        </button>
                    }.into_any(),
                },
            }}
        </main>
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
fn Renewal(token: String) -> impl IntoView {
    let renew = ServerAction::<RenewLink>::new();
    let ask = move |_| {
        renew.dispatch(RenewLink {
            token: token.clone(),
        });
    };
    view! {
        {move || match renew.value().get() {
            Some(Ok(renewed)) => view! {
                <p class="notice" role="status">
                    "A new link is on its way to " <strong>{renewed.sent_to}</strong> ". It may take a minute to arrive."
                </p>
            }.into_any(),
            other => view! {
                {other.and_then(Result::err).map(|error| view! { <ErrorMessage error /> })}
                <p>"The new link goes to the address this invitation was sent to, and the person who invited you is told."</p>
                <button
                    type="button"
                    class="primary wide"
                    on:click=ask.clone()
                    disabled=move || renew.pending().get()
                >
                    {move || if renew.pending().get() { "Sending…" } else { "Send me a new link" }}
                </button>
            }.into_any(),
        }}
    }
}

/// The token from `#…`, or an empty string.
fn read_fragment() -> String {
    #[cfg(feature = "hydrate")]
    {
        window()
            .location()
            .hash()
            .unwrap_or_default()
            .trim_start_matches('#')
            .to_owned()
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// Rewrites the current history entry's URL without its fragment (`replaceState`: no
/// new entry, no reload, and the entry's state is kept), so neither the address bar nor
/// the back button, nor a synced or restored tab, keeps the token.
fn forget_token() {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        if location.hash().unwrap_or_default().is_empty() {
            return;
        }
        let without_fragment = format!(
            "{}{}",
            location.pathname().unwrap_or_else(|_| "/link".to_owned()),
            location.search().unwrap_or_default()
        );
        if let Ok(history) = window().history() {
            let state = history.state().unwrap_or(wasm_bindgen::JsValue::NULL);
            let _ = history.replace_state_with_url(&state, "", Some(&without_fragment));
        }
    }
}

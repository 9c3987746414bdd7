//! Latchkey's web application: the pages, the server functions behind them and, with the
//! `ssr` feature, the domain code those functions call.

pub mod answer;
// In the browser build, `#[server]` turns `issue_link`'s eight form fields into a client
// function the `#[allow]` written on it in api.rs does not reach.
#[cfg_attr(
    feature = "hydrate",
    allow(
        clippy::too_many_arguments,
        reason = "issue_link's client stub takes one argument per form field"
    )
)]
pub mod api;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
pub mod query;
#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="referrer" content="same-origin" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // The server names the front end's directory by its contents (see the
                // server's assets module); the hydration scripts use the same.
                <link
                    rel="stylesheet"
                    id="leptos"
                    href=format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
                />
                // A page answering a plain form is never hydrated (see answer.rs); the
                // invitee's pages hydrate only after they have loaded.
                {answer::form_answer().is_none().then(|| view! {
                    <AutoReload options=options.clone() />
                    {if hydrates_after_load() {
                        view! { <HydrateAfterLoad options /> }.into_any()
                    } else {
                        view! { <HydrationScripts options /> }.into_any()
                    }}
                })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Whether the page being rendered is one whose forms work without the WASM, and so
/// loads it only after the page itself: `/link` and `/code`.
fn hydrates_after_load() -> bool {
    #[cfg(feature = "ssr")]
    {
        const HYDRATE_AFTER_LOAD: [&str; 2] = ["/link", "/code"];
        use_context::<axum::http::request::Parts>()
            .is_some_and(|parts| HYDRATE_AFTER_LOAD.contains(&parts.uri.path()))
    }
    #[cfg(not(feature = "ssr"))]
    false
}

/// Leptos' hydration loader without its preload hints, run on `load`: see the script.
#[component]
fn HydrateAfterLoad(options: LeptosOptions) -> impl IntoView {
    let pkg = format!("/{}/{}", options.site_pkg_dir, options.output_name);
    let script = format!(
        "{}({:?}, {:?});",
        include_str!("hydrate-after-load.js").trim_end(),
        format!("{pkg}.js"),
        format!("{pkg}.wasm")
    );
    view! { <script type="module" nonce=leptos::nonce::use_nonce() inner_html=script></script> }
}

/// The router: one page per route.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Latchkey" />
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/dashboard" /> } />
                <Route path=path!("/login") view=pages::login::LoginPage />
                <Route path=path!("/dashboard") view=pages::dashboard::DashboardPage ssr=SsrMode::Async />
                <Route path=path!("/dashboard/coworkers") view=pages::coworkers::CoworkersPage ssr=SsrMode::Async />
                <Route path=path!("/dashboard/applications") view=pages::applications::ApplicationsPage ssr=SsrMode::Async />
                <Route path=path!("/dashboard/links/:id") view=pages::link_details::LinkDetailsPage ssr=SsrMode::Async />
                <Route path=path!("/link") view=pages::link::LinkPage />
                <Route path=path!("/code") view=pages::code::CodePage />
                <Route path=path!("/welcome") view=pages::welcome::WelcomePage ssr=SsrMode::Async />
                <Route path=path!("/sign-out") view=pages::sign_out::SignOutPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

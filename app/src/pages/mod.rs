//! One module per route.

pub mod applications;
pub mod code;
pub mod coworkers;
pub mod dashboard;
pub mod link;
pub mod link_access;
pub mod link_details;
pub mod login;
pub mod sign_out;
pub mod welcome;

use leptos::prelude::*;

/// Any other path.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
        </main>
    }
}

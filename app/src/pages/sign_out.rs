//! `/sign-out?rd=URL`: the sign-out page an application links to. It asks first, ends the
//! session with a POST, then goes to `rd` when the server calls it a safe place to send
//! the browser, else to `/login`.

use crate::api::current_user;
use crate::components::{ErrorMessage, Header, SignOutButton};
use crate::model::applications::ReturnAddress;
use crate::model::sessions::SignedIn;
use crate::query::use_return_address;
use leptos::prelude::*;

#[component]
pub fn SignOutPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let back = use_return_address();
    view! {
        <Header />
        <main class="narrow">
            <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let user = user.await;
                    let ReturnAddress { url, application } = back.await;
                    let go_to = url.clone().unwrap_or_else(|| "/login".to_owned());
                    let then = application.map(|name| view! {
                        <p>"Afterwards you go back to " <strong>{name}</strong> "."</p>
                    });
                    match user {
                        Ok(Some(user)) => {
                            let stay = url.unwrap_or_else(|| match user {
                                SignedIn::Coworker { .. } => "/dashboard".to_owned(),
                                SignedIn::Invitee { .. } => "/welcome".to_owned(),
                            });
                            view! {
                                <h1>"Sign out of Latchkey?"</h1>
                                <div class="card stack">
                                    <p>"Signed in as " <strong>{user.email().to_owned()}</strong></p>
                                    <p>"Signing out ends this browser's session: the applications Latchkey opens for you ask for a new sign-in."</p>
                                    {then}
                                    <div class="row">
                                        <SignOutButton go_to class="primary" />
                                        <a href=stay>"Stay signed in"</a>
                                    </div>
                                </div>
                            }
                            .into_any()
                        }
                        Ok(None) => view! {
                            <h1>"You are signed out"</h1>
                            <div class="card stack">
                                <p>"This browser is not signed in to Latchkey."</p>
                                {then}
                                <p><a href=go_to>"Continue"</a></p>
                            </div>
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorMessage error /> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

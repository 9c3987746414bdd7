//! The server's answers to the invitee's plain HTML forms (Continue, "Send me a new link",
//! the code form), rendered as pages of their own.
//!
//! Those forms work without the WASM: the browser posts them, the server acts and either
//! redirects (signed in) or renders the page that owns the form with one of these
//! answers in its context. Such a page is never hydrated (the shell leaves out the
//! hydration scripts): the answer exists only on the server.

use crate::error::AppError;
use std::fmt;

#[derive(Clone, Debug)]
pub enum FormAnswer {
    /// Continue or "Send me a new link" was refused. `renewal` carries the link's token
    /// back into the renewal form when a new link may be asked for.
    LinkRefused {
        error: AppError,
        renewal: Option<FormToken>,
    },
    /// A new link is on its way to `sent_to` (masked).
    Renewed { sent_to: String },
    /// Signed in, and on the way to `url` on another origin (an application behind the
    /// gate). A redirect there would be refused by the page's `form-action 'self'`,
    /// which browsers apply to a form post's redirects too, so the page moves on itself
    /// (`<meta http-equiv="refresh">`, no script) and offers the link.
    Leaving { url: String },
    /// The code form was refused; `email` is what was typed, to fill the form again.
    CodeRefused { error: AppError, email: String },
}

/// A token going back into a form's hidden field. Its `Debug` is redacted.
#[derive(Clone)]
pub struct FormToken(pub String);

impl fmt::Debug for FormToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FormToken([redacted])")
    }
}

/// The answer this page is rendered with, on the server; never in the browser.
pub fn form_answer() -> Option<FormAnswer> {
    leptos::prelude::use_context::<FormAnswer>()
}

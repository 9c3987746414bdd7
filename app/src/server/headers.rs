//! The Content-Security-Policy of server-rendered pages.
//!
//! Leptos puts a fresh nonce on every inline script it writes (the hydration loader and
//! resource data); the policy allows exactly those, the site's own files, and WebAssembly
//! compilation. Answers that are not pages get [`NON_PAGE_POLICY`] from the server's
//! middleware.

use axum::http::{header, HeaderValue};
use leptos::prelude::use_context;

/// For every answer that is not an HTML page: nothing may load, nothing may frame it.
pub const NON_PAGE_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy for a page whose inline scripts carry `nonce`.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the page policy on the response about to be rendered. The server calls this in
/// the context of every Leptos route and of the fallback page, after Leptos has made the
/// response's nonce and before rendering starts (headers set later can be lost in
/// async rendering). Outside a page render there is no nonce and this does nothing.
pub fn content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce.to_string())) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_need_the_nonce_and_nothing_inline_is_allowed() {
        let policy = page_policy("abc123");
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("base-uri 'none'"));
        assert!(policy.contains("form-action 'self'"));
    }
}

//! The gate cookie: the browser's credential for the gate, and for nothing else.
//!
//! Latchkey's own cookie (the session layer's, host-only) opens its pages and API. The
//! gate cookie is set beside it when a link is redeemed, on `LATCHKEY_COOKIE_DOMAIN` when
//! there is one, so every application host receives it; its value is a 256-bit token
//! whose SHA-256 names the session (`auth_sessions.gate_hash`), and only the gate's
//! endpoints read it. Ending the session (sign-out, revoke, idle, lifetime) ends both.
//!
//! A request handler that signs a browser in or out says so through the [`GateCookie`]
//! in its request's extensions; the server's middleware writes the `Set-Cookie`.

use super::super::config::Config;
use super::super::tokens::{PlainToken, TokenHash, TOKEN_CHARS};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// What a response does with the gate cookie.
#[derive(Debug)]
pub enum Change {
    /// Set it to `token` until `ends_at` (unix seconds).
    Set { token: PlainToken, ends_at: i64 },
    /// Remove it.
    Clear,
}

/// This request's say about the gate cookie, for the response to carry out.
#[derive(Debug, Clone, Default)]
pub struct GateCookie(Arc<Mutex<Option<Change>>>);

impl GateCookie {
    fn put(&self, change: Change) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(change);
    }

    pub fn set(&self, token: PlainToken, ends_at: i64) {
        self.put(Change::Set { token, ends_at });
    }

    pub fn clear(&self) {
        self.put(Change::Clear);
    }

    /// The change asked for, once.
    pub fn take(&self) -> Option<Change> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// The gate cookie's name: `__Host-` for https without a cookie domain, `__Secure-` for
/// https with one (`__Host-` forbids a `Domain`), plain for http.
pub fn name(config: &Config) -> &'static str {
    match (config.is_https(), config.cookie_domain.is_some()) {
        (true, false) => "__Host-latchkey_gate",
        (true, true) => "__Secure-latchkey_gate",
        (false, _) => "latchkey_gate",
    }
}

/// The `Set-Cookie` value for `change`, as of unix time `now`.
pub fn set_cookie(config: &Config, change: &Change, now: i64) -> String {
    let (value, max_age) = match change {
        Change::Set { token, ends_at } => (token.expose(), (ends_at - now).max(0)),
        Change::Clear => ("", 0),
    };
    let mut cookie = format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax",
        name(config)
    );
    if let Some(domain) = &config.cookie_domain {
        cookie.push_str("; Domain=");
        cookie.push_str(domain);
    }
    if config.is_https() {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The hashes of the gate cookies in a request's `Cookie` headers (a browser can hold
/// more than one of the same name, set for different paths or domains).
pub fn read<'h>(config: &Config, cookie_headers: impl Iterator<Item = &'h [u8]>) -> Vec<TokenHash> {
    let name = name(config).as_bytes();
    let mut found = Vec::new();
    for header in cookie_headers {
        for pair in header.split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            let Some(value) = pair
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(b"="))
            else {
                continue;
            };
            // A token is TOKEN_CHARS characters of base64url; anything else names nothing.
            if value.len() == TOKEN_CHARS && found.len() < 4 {
                found.push(TokenHash(Sha256::digest(value).into()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_cookie_is_read_among_others_and_hashed() {
        let config = Config::from_lookup(|_| None).unwrap();
        let token = PlainToken::generate();
        let header = format!(
            "a=1; latchkey_session=xyz; {}={}; latchkey_gate=short",
            name(&config),
            token.expose()
        );
        let found = read(&config, [header.as_bytes()].into_iter());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, token.hashed().0);
        assert!(read(&config, ["latchkey_gatex=1".as_bytes()].into_iter()).is_empty());
    }

    #[test]
    fn the_set_cookie_carries_the_end_and_the_domain() {
        let mut config = Config::from_lookup(|_| None).unwrap();
        config.cookie_domain = Some("example.com".into());
        let token = PlainToken::generate();
        let set = set_cookie(
            &config,
            &Change::Set {
                token,
                ends_at: 1_600,
            },
            1_000,
        );
        assert!(set.starts_with("latchkey_gate="), "{set}");
        assert!(set.contains("; Max-Age=600; HttpOnly; SameSite=Lax; Domain=example.com"));
        let cleared = set_cookie(&config, &Change::Clear, 1_000);
        assert!(
            cleared.starts_with("latchkey_gate=; Path=/; Max-Age=0"),
            "{cleared}"
        );
    }
}

//! The request a proxy asks about, read exactly: the URL the proxy routed, refused
//! (`None`) whenever the proxy and the gate could read it differently.
//!
//! A proxy decodes a path (`%61` is `a`, `%2F` is `/`) and merges slashes before it picks
//! the location or route that serves it, while a URL parser keeps `%61` and resolves dot
//! segments. Rather than guess one proxy's normalisation, the gate refuses every path on
//! which proxies differ — an encoded slash or backslash, a raw backslash, a dot segment
//! (plain or encoded), an empty segment — and matches what is left after decoding it
//! once, as every proxy does. The authority must be a plain host with an optional port:
//! no user information, never empty.

use crate::server::urls::{parse_absolute, MAX_URL_BYTES};
use url::Url;

/// A proxied request's URL, as the gate matches it against applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedUrl {
    /// The URL as received (for the `rd` that brings the browser back after sign-in).
    pub url: Url,
    /// Its path, percent-decoded once (what the proxy routed on).
    pub path: String,
}

impl ProxiedUrl {
    /// Reads `X-Original-URL` (nginx): `scheme://host[:port]/path[?query]`.
    pub fn from_original(original: &str) -> Option<Self> {
        let (scheme, rest) = original.split_once("://")?;
        if !matches!(scheme, "http" | "https") {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        // A URL that ends after its authority asks for the root, as any parser reads it.
        let target = match &rest[end..] {
            "" => "/",
            target => target,
        };
        Self::exact(scheme, &rest[..end], target)
    }

    /// Reads Caddy's and Traefik's `X-Forwarded-Proto`, `-Host` and `-Uri`.
    pub fn from_forwarded(proto: &str, host: &str, uri: &str) -> Option<Self> {
        if !matches!(proto, "http" | "https") {
            return None;
        }
        Self::exact(proto, host, uri)
    }

    fn exact(scheme: &str, authority: &str, target: &str) -> Option<Self> {
        if !plain_authority(authority) || !target.starts_with('/') || target.contains('#') {
            return None;
        }
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        let path = decoded_path(path)?;
        let url = parse_absolute(&format!("{scheme}://{authority}{target}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        Some(Self { url, path })
    }
}

/// `host` or `host:port`: no user information, nothing a URL parser would read as the
/// start of the path, no percent-encoding; an IPv6 literal in brackets.
fn plain_authority(authority: &str) -> bool {
    !authority.is_empty()
        && authority.len() <= 300
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
        && !authority.starts_with(':')
}

/// The path decoded once, or `None` when the proxy and the gate could disagree on it.
fn decoded_path(raw: &str) -> Option<String> {
    if raw.len() > MAX_URL_BYTES || raw.contains('\\') {
        return None;
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return None;
    }
    let decoded = percent_decode(raw)?;
    // Segments after the leading slash: none empty (a proxy merges `//`), none a dot
    // segment (a proxy resolves them; `%2e` decodes to one).
    let inner = &decoded[1..];
    if inner.is_empty() {
        return Some(decoded);
    }
    let mut segments = inner.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if segment == "." || segment == ".." || (segment.is_empty() && !last) {
            return None;
        }
    }
    Some(decoded)
}

/// `%XX` decoded once; `None` for a malformed escape, a control character, or bytes that
/// are not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

/// Whether `path` (decoded) is `prefix` (decoded, no trailing slash) or continues it
/// after a `/`.
pub fn path_within(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// An application's path prefix as it is matched: decoded once, like the request's path.
pub fn decoded_prefix(prefix: &str) -> String {
    percent_decode(prefix).unwrap_or_else(|| prefix.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_url_is_read_with_its_path_decoded_once() {
        let url = ProxiedUrl::from_original("https://wiki.example.com/a%20b/%61?x=%2F").unwrap();
        assert_eq!(url.url.as_str(), "https://wiki.example.com/a%20b/%61?x=%2F");
        assert_eq!(url.path, "/a b/a");
        let url = ProxiedUrl::from_original("http://wiki.example.com:8080").unwrap();
        assert_eq!((url.url.port(), url.path.as_str()), (Some(8080), "/"));
        let url = ProxiedUrl::from_original("https://wiki.example.com:443/x/").unwrap();
        assert_eq!((url.url.port(), url.path.as_str()), (None, "/x/"));
        let url = ProxiedUrl::from_forwarded("https", "Wiki.Example.com", "/a?b").unwrap();
        assert_eq!(url.url.as_str(), "https://wiki.example.com/a?b");
    }

    #[test]
    fn urls_a_proxy_could_read_otherwise_are_refused() {
        for refused in [
            // the authority
            "http:///grafana.example.com/x",
            "http://:80/x",
            "http://user@wiki.example.com/",
            "http://user:pw@wiki.example.com/",
            "http://wiki.example.com%2F@evil/",
            "http://wiki.example.com\\@evil/",
            "http://wiki.example.com?x",
            // the scheme
            "ftp://wiki.example.com/",
            "HTTP://wiki.example.com/",
            "javascript://wiki.example.com/",
            "/relative",
            // the path
            "http://h.test/wiki/..%2Fgrafana/x",
            "http://h.test/wiki/%2e%2e/grafana",
            "http://h.test/wiki/.%2E/grafana",
            "http://h.test/wiki/../grafana",
            "http://h.test/wiki/./x",
            "http://h.test/wiki/.",
            "http://h.test/wiki%2fx",
            "http://h.test/wiki%5Cx",
            "http://h.test/wiki\\x",
            "http://h.test//grafana/x",
            "http://h.test/wiki//x",
            "http://h.test/%zz",
            "http://h.test/%00",
            "http://h.test/a%0d%0ab",
            "http://h.test/%ff",
            "http://h.test/#x",
        ] {
            assert_eq!(ProxiedUrl::from_original(refused), None, "{refused:?}");
        }
        for (proto, host, uri) in [
            ("https", "evil.test/x", "/a"),
            ("https", "wiki.example.com@evil.test", "/a"),
            ("https", "", "/a"),
            ("javascript", "wiki.example.com", "/a"),
            ("ws", "wiki.example.com", "/a"),
            ("https", "wiki.example.com", "a"),
            ("https", "wiki.example.com", "/a\r\nX: y"),
            ("https", "wiki.example.com", "/a/%2e%2E/b"),
        ] {
            assert_eq!(
                ProxiedUrl::from_forwarded(proto, host, uri),
                None,
                "{proto} {host} {uri}"
            );
        }
    }

    #[test]
    fn a_trailing_slash_and_dots_inside_names_are_plain_paths() {
        for fine in [
            "http://h.test/wiki/",
            "http://h.test/wiki/a.b/..c/...",
            "http://h.test/",
        ] {
            assert!(ProxiedUrl::from_original(fine).is_some(), "{fine:?}");
        }
    }

    #[test]
    fn a_path_is_within_a_prefix_only_at_a_segment_boundary() {
        assert!(path_within("/wiki", "/wiki"));
        assert!(path_within("/wiki/x", "/wiki"));
        assert!(path_within("/anything", ""));
        assert!(!path_within("/wikix", "/wiki"));
        assert!(!path_within("/grafana", "/wiki"));
    }
}

//! The front end inside the binary: the files `server/build.rs` put there, each with its
//! brotli and gzip forms made at build time, and how one is answered.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Response, StatusCode};

/// One file of the built site.
pub struct File {
    /// Its path as requested, e.g. `/pkg/latchkey.wasm` or `/favicon.svg`.
    pub path: &'static str,
    pub content_type: &'static str,
    /// The start of the SHA-256 of `raw`, in hex.
    pub hash: &'static str,
    pub raw: &'static [u8],
    pub br: Option<&'static [u8]>,
    pub gz: Option<&'static [u8]>,
}

/// Every file, sorted by path; empty when the binary was built without a site.
static FILES: &[File] = include!(concat!(env!("OUT_DIR"), "/site.rs"));

/// The files this binary carries, if it was built with them.
pub fn files() -> Option<&'static [File]> {
    (!FILES.is_empty()).then_some(FILES)
}

/// The file at `path`.
pub fn find<'a>(files: &'a [File], path: &str) -> Option<&'a File> {
    files
        .binary_search_by(|file| file.path.cmp(path))
        .ok()
        .map(|i| &files[i])
}

/// The answer to a GET or HEAD of `file`: the smallest form the browser accepts, and 304
/// when it names the form it already holds (`If-None-Match`).
pub fn answer(file: &File, method: &Method, request: &HeaderMap) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET,HEAD")
            .body(Body::empty())
            .expect("static headers");
    }
    let accepted = Accepted::from(request);
    let (bytes, encoding) = match (file.br, file.gz) {
        (Some(br), _) if accepted.br => (br, Some("br")),
        (_, Some(gz)) if accepted.gzip => (gz, Some("gzip")),
        _ => (file.raw, None),
    };
    let etag = match encoding {
        Some(encoding) => format!("\"{}-{encoding}\"", file.hash),
        None => format!("\"{}\"", file.hash),
    };
    let mut response = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::VARY, "accept-encoding");
    if let Some(encoding) = encoding {
        response = response.header(header::CONTENT_ENCODING, encoding);
    }
    if holds(request, &etag) {
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("valid headers");
    }
    response = response
        .header(header::CONTENT_TYPE, file.content_type)
        .header(header::CONTENT_LENGTH, bytes.len());
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    response.body(body).expect("valid headers")
}

/// The encodings an `Accept-Encoding` header allows (a `q=0` refuses one).
#[derive(Debug, Default, PartialEq)]
struct Accepted {
    br: bool,
    gzip: bool,
}

impl From<&HeaderMap> for Accepted {
    fn from(headers: &HeaderMap) -> Self {
        let mut accepted = Self::default();
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|parameter| {
                    parameter
                        .trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if refused {
                    continue;
                }
                if name.eq_ignore_ascii_case("br") {
                    accepted.br = true;
                } else if name.eq_ignore_ascii_case("gzip") || name == "*" {
                    accepted.gzip = true;
                }
            }
        }
        accepted
    }
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn holds(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const FILE: File = File {
        path: "/pkg/app.js",
        content_type: "text/javascript",
        hash: "0123abcd",
        raw: b"raw bytes",
        br: Some(b"br"),
        gz: Some(b"gz"),
    };

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn get(pairs: &[(&'static str, &'static str)]) -> Response<Body> {
        answer(&FILE, &Method::GET, &headers(pairs))
    }

    #[test]
    fn the_smallest_form_the_browser_accepts_is_sent() {
        let encoding = |pairs| {
            get(pairs)
                .headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            encoding(&[("accept-encoding", "gzip, deflate, br, zstd")]).as_deref(),
            Some("br")
        );
        assert_eq!(
            encoding(&[("accept-encoding", "gzip")]).as_deref(),
            Some("gzip")
        );
        assert_eq!(
            encoding(&[("accept-encoding", "br;q=0, gzip")]).as_deref(),
            Some("gzip")
        );
        assert_eq!(encoding(&[("accept-encoding", "identity")]), None);
        assert_eq!(encoding(&[]), None);
        let plain = get(&[]);
        assert_eq!(plain.headers()[header::CONTENT_LENGTH], "9");
        assert_eq!(plain.headers()[header::CONTENT_TYPE], "text/javascript");
        assert_eq!(plain.headers()[header::VARY], "accept-encoding");
    }

    #[test]
    fn a_browser_holding_the_same_form_gets_304() {
        let first = get(&[("accept-encoding", "br")]);
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::ETAG], "\"0123abcd-br\"");
        let again = answer(
            &FILE,
            &Method::GET,
            &headers(&[
                ("accept-encoding", "br"),
                ("if-none-match", "\"0123abcd-br\""),
            ]),
        );
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::CONTENT_ENCODING], "br");
        // The gzip form's tag does not stand for the brotli one.
        let other = answer(
            &FILE,
            &Method::GET,
            &headers(&[
                ("accept-encoding", "br"),
                ("if-none-match", "W/\"0123abcd-gzip\""),
            ]),
        );
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn only_get_and_head_are_answered() {
        let post = answer(&FILE, &Method::POST, &HeaderMap::new());
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET,HEAD");
        let head = answer(&FILE, &Method::HEAD, &HeaderMap::new());
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "9");
    }

    #[test]
    fn files_are_found_by_path() {
        let files = [
            File {
                path: "/favicon.svg",
                ..FILE
            },
            FILE,
        ];
        assert_eq!(
            find(&files, "/pkg/app.js").map(|f| f.path),
            Some("/pkg/app.js")
        );
        assert!(find(&files, "/pkg/other.js").is_none());
    }
}

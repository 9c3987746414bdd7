//! The gate's two endpoints, the HTTP side of `app::server::gate`:
//!
//! - `GET /gate/auth-request` for nginx `auth_request`: reads `X-Original-URL` and
//!   `X-Original-Method`; 200 with identity headers, 401 with `Location` (nginx cannot
//!   pass a redirect from an auth subrequest; its config turns this into one), 403.
//! - `GET /gate/forward-auth` for Traefik `forwardAuth` and Caddy `forward_auth`: reads
//!   `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri`; 200 with identity headers, 302
//!   to sign in for a browser's GET or HEAD (401 for anything else, or a request that
//!   asks for JSON), 403 with a page.
//!
//! Forwarded headers are believed only from `LATCHKEY_TRUSTED_PROXIES`; from any other
//! peer both endpoints answer 403 and log why. A request's credential is the gate cookie
//! alone (never Latchkey's own session cookie), read here without the session layer.

use app::error::AppError;
use app::server::gate::request::ProxiedUrl;
use app::server::gate::{self, cookie, header_text, Decision, Identity};
use app::server::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use std::net::SocketAddr;

/// Which proxy protocol a request came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    AuthRequest,
    ForwardAuth,
}

/// `GET /gate/auth-request`.
pub async fn auth_request(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    answer(&state, peer, &headers, Protocol::AuthRequest).await
}

/// `GET /gate/forward-auth`.
pub async fn forward_auth(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    answer(&state, peer, &headers, Protocol::ForwardAuth).await
}

async fn answer(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    protocol: Protocol,
) -> Response<Body> {
    let (counted_as, response) = decide(state, peer, headers, protocol).await;
    app::server::metrics::gate_decision(counted_as);
    response
}

/// The URL the proxy asks about, or `None` when it is not exactly one the gate and the
/// proxy read alike (see [`ProxiedUrl`]).
fn proxied_url(headers: &HeaderMap, protocol: Protocol) -> Option<ProxiedUrl> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match protocol {
        Protocol::AuthRequest => ProxiedUrl::from_original(text("x-original-url")?),
        Protocol::ForwardAuth => ProxiedUrl::from_forwarded(
            text("x-forwarded-proto")?,
            text("x-forwarded-host")?,
            text("x-forwarded-uri")?,
        ),
    }
}

/// The answer, and what it counts as in the metrics.
async fn decide(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    protocol: Protocol,
) -> (&'static str, Response<Body>) {
    if !state.config.trusts_proxy(peer.ip()) {
        tracing::warn!(peer = %peer.ip(), "gate request refused: the peer is not a trusted proxy");
        return ("untrusted_proxy", forbidden_page(None));
    }
    let Some(url) = proxied_url(headers, protocol) else {
        tracing::warn!("gate request refused: no exact URL of an http(s) request in its headers");
        return ("no_url", forbidden_page(None));
    };
    let method = headers
        .get(match protocol {
            Protocol::AuthRequest => "x-original-method",
            Protocol::ForwardAuth => "x-forwarded-method",
        })
        .and_then(|v| v.to_str().ok());
    let cookies = cookie::read(
        &state.config,
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(HeaderValue::as_bytes),
    );
    let decided = state.gate.decide(&cookies, &url).await;
    // To Latchkey's sign-in or "ended" page: a browser's navigation through Caddy or
    // Traefik follows a 302; nginx (and anything not a navigation) needs the 401.
    let navigation = matches!(method.unwrap_or("GET"), "GET" | "HEAD") && !asks_for_json(headers);
    let to_latchkey = |location: &str| {
        if protocol == Protocol::ForwardAuth && navigation {
            redirect(StatusCode::FOUND, location)
        } else {
            redirect(StatusCode::UNAUTHORIZED, location)
        }
    };
    match decided {
        Ok(Decision::Allow(identity)) => ("allow", allowed(&identity)),
        Ok(Decision::SignIn { location }) => ("sign_in", to_latchkey(&location)),
        Ok(Decision::Ended { location }) => ("ended", to_latchkey(&location)),
        Ok(Decision::Forbidden { application }) => {
            tracing::info!(
                reason = if application.is_some() {
                    "not in this invitation"
                } else {
                    "outside every application"
                },
                "gate refused a request"
            );
            ("forbidden", forbidden_page(application.as_deref()))
        }
        Err(error) => ("error", failed(&error)),
    }
}

/// Whether the request wants JSON rather than a page (an API call from a script).
fn asks_for_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    (accept.contains("application/json") && !accept.contains("text/html"))
        || headers
            .get("x-requested-with")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"xmlhttprequest"))
}

fn allowed(identity: &Identity) -> Response<Body> {
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CACHE_CONTROL, "no-store")
        .header("remote-user", header_text(&identity.email))
        .header("remote-email", header_text(&identity.email))
        .header("remote-groups", identity.groups.join(","));
    if let Some(name) = &identity.name {
        response = response.header("remote-name", header_text(name));
    }
    if let Some(link) = identity.link {
        response = response.header("remote-link", link.to_string());
    }
    response
        .body(Body::empty())
        .unwrap_or_else(|_| failed(&AppError::Internal))
}

fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    match HeaderValue::from_str(location) {
        Ok(location) => Response::builder()
            .status(status)
            .header(header::LOCATION, location)
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::empty())
            .unwrap_or_else(|_| failed(&AppError::Internal)),
        Err(_) => failed(&AppError::Internal),
    }
}

/// The 403 page (see [`gate::forbidden_page`]).
fn forbidden_page(application: Option<&str>) -> Response<Body> {
    let Ok(page) = gate::forbidden_page(application) else {
        tracing::error!("rendering the gate's 403 page failed");
        return failed(&AppError::Internal);
    };
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(page))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// A fault: 503 with `Retry-After` when the database is busy, 500 otherwise; the detail
/// went to the log where it happened.
fn failed(error: &AppError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder().status(status);
    if let Some(secs) = error.retry_after_secs() {
        response = response.header(header::RETRY_AFTER, secs);
    }
    response
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

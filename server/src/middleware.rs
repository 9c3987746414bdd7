//! Middleware that applies to every request: headers, cross-origin refusal, API error
//! statuses, the gate cookie and request logging.

use app::error::AppError;
use app::server::gate::cookie::{self, GateCookie};
use app::server::state::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, Response, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use std::time::Duration;
use tracing::Span;

/// Server function errors leave leptos as 500; this gives each its real status, read from
/// the error itself, so the mapping lives in one place ([`AppError::status`]).
pub async fn api_error_status(request: Request, next: Next) -> Response<Body> {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_api
        || !response.headers().contains_key("serverfnerror")
        || response.status().is_redirection()
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = error.retry_after_secs() {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Gives each request a say about the gate cookie (see `app::server::gate::cookie`), and
/// writes the `Set-Cookie` its handler asked for: set at a sign-in, cleared at a sign-out.
pub async fn gate_cookie(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response<Body> {
    let slot = GateCookie::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(change) = slot.take() {
        let cookie = cookie::set_cookie(&state.config, &change, app::server::now());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        } else {
            tracing::error!("the gate cookie could not be written as a header");
        }
    }
    response
}

/// Refuses state-changing requests from another site before any work is done.
pub async fn refuse_cross_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response<Body> {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
        let headers = request.headers();
        let foreign_origin = headers
            .get(header::ORIGIN)
            .is_some_and(|origin| origin.as_bytes() != state.config.public_origin().as_bytes());
        let foreign_fetch = headers
            .get("sec-fetch-site")
            .is_some_and(|site| site != "same-origin" && site != "none");
        if foreign_origin || foreign_fetch {
            tracing::warn!("cross-origin request refused");
            return (StatusCode::FORBIDDEN, axum::Json(AppError::Forbidden)).into_response();
        }
    }
    next.run(request).await
}

/// Headers every answer carries.
pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response<Body> {
    let path = request.uri().path();
    // /pkg/{version}/…: named by their contents, so they never change (see assets).
    let immutable = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(&*state.leptos_options.site_pkg_dir))
        .is_some_and(|rest| rest.starts_with('/'));
    let cacheable = path.starts_with("/pkg/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(app::server::headers::NON_PAGE_POLICY),
        );
    }
    if state.config.is_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    // An access system has nothing to index; above all not /link.
    headers.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        // `same-origin`, not `no-referrer`: under `no-referrer` a page's own form posts
        // carry `Origin: null`, which the cross-origin check cannot tell from another
        // site's (and plain-HTTP origins get no `Sec-Fetch-Site`). No other site ever
        // receives a `Referer`; links carry their token in the fragment, never sent.
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if immutable {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    } else if cacheable {
        // Under their plain names the files change with each build, so browsers keep a
        // copy but ask again (a cheap 304 with If-Modified-Since) before using it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// One span per request: method and path only. Never the query string (a token could be
/// pasted into one by mistake) and never headers.
pub fn request_span(request: &Request<Body>) -> Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

pub fn log_response(response: &Response<Body>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_millis() as u64,
        "answered"
    );
}

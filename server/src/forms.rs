//! The invitee's plain HTML forms, which work before (and without) the WASM:
//!
//! - `POST /link` (`token`): Continue. Signed in: 303 to where the link leads. Refused:
//!   the /link page with the reason, and "Send me a new link" when that is offered.
//! - `POST /link/renew` (`token`): "Send me a new link". The /link page says where the
//!   new link went, or why there is none.
//!
//! Each does what its server function does (`app::server::arrival`), and a refusal
//! answers with the status that server function would have (404, 410, 429 with
//! `Retry-After`, …). Answer pages are rendered by the app itself, with the answer in
//! their context, and are never stored by the browser or hydrated.

use crate::page_context;
use app::answer::{FormAnswer, FormToken};
use app::error::AppError;
use app::server::arrival;
use app::server::request::client_of;
use app::server::state::AppState;
use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use leptos::prelude::provide_context;
use serde::Deserialize;
use std::net::SocketAddr;
use tower_sessions::Session;

/// A form that carries a link's token. No `Debug`: it holds a secret.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

/// `POST /link`.
pub async fn continue_link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response<Body> {
    let token = form.map(|Form(form)| form.token).unwrap_or_default();
    let client = client_of(&state, peer.ip(), &headers);
    match arrival::continue_with_token(&state, &client, &session, &token).await {
        Ok(redeemed) => Redirect::to(&redeemed.redirect_to).into_response(),
        Err(error) => refused(&state, error, token).await,
    }
}

/// `POST /link/renew`.
pub async fn renew_link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response<Body> {
    let token = form.map(|Form(form)| form.token).unwrap_or_default();
    let client = client_of(&state, peer.ip(), &headers);
    match arrival::renew_with_token(&state, &client, &token).await {
        Ok(renewed) => {
            let answer = FormAnswer::Renewed {
                sent_to: renewed.sent_to,
            };
            render(&state, "/link", answer, StatusCode::OK).await
        }
        Err(error) => refused(&state, error, token).await,
    }
}

/// The /link page saying why `token` was refused, offering a new link when it may be had.
async fn refused(state: &AppState, error: AppError, token: String) -> Response<Body> {
    let offered = matches!(error, AppError::LinkUsed | AppError::LinkExpired)
        && arrival::renewal_offered(state, &token)
            .await
            .unwrap_or(false);
    let status = status_of(&error);
    let retry_after = error.retry_after_secs();
    let answer = FormAnswer::LinkRefused {
        error,
        renewal: offered.then_some(FormToken(token)),
    };
    let mut response = render(state, "/link", answer, status).await;
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn status_of(error: &AppError) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Renders the page at `path` with `answer` in its context.
async fn render(
    state: &AppState,
    path: &'static str,
    answer: FormAnswer,
    status: StatusCode,
) -> Response<Body> {
    let context = {
        let base = page_context(state);
        move || {
            base();
            provide_context(answer.clone());
        }
    };
    let options = state.leptos_options.clone();
    let page = leptos_axum::render_app_to_stream_with_context(context, move || {
        app::shell(options.clone())
    });
    let Ok(request) = Request::get(path).body(Body::empty()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = page(request).await;
    *response.status_mut() = status;
    // The page may carry a token back into a form: never keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

//! The invitee's plain HTML forms, which work before (and without) the WASM:
//!
//! - `POST /link` (`token`): Continue. Signed in: 303 to where the link leads on
//!   Latchkey, or a page that moves on to an application on another origin (see
//!   [`FormAnswer::Leaving`]). Refused: the /link page with the reason, and "Send me a
//!   new link" when that is offered.
//! - `POST /link/renew` (`token`): "Send me a new link". The /link page says where the
//!   new link went, or why there is none.
//! - `POST /code` (`email`, `code`): another device's way in. Signed in: as for
//!   `/link`. Refused: the /code page with the reason and the address filled in.
//!
//! Each does what its server function does (`app::server::arrival`), and a refusal
//! answers with the status that server function would have (404, 410, 429 with
//! `Retry-After`, …). Answer pages are rendered by the app itself, with the answer in
//! their context, and are never stored by the browser or hydrated.

use crate::page_context;
use app::answer::{FormAnswer, FormToken};
use app::error::AppError;
use app::server::arrival;
use app::server::auth::Browser;
use app::server::email::MAX_EMAIL_LEN;
use app::server::request::client_of;
use app::server::state::AppState;
use app::server::store::events::Client;
use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use leptos::prelude::provide_context;
use serde::Deserialize;
use std::net::SocketAddr;

/// A form that carries a link's token. No `Debug`: it holds a secret.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

/// The code form. No `Debug`: it holds a secret.
#[derive(Deserialize, Default)]
pub struct CodeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
}

/// Who posts one of these forms: the shared state, the client as the limits and the
/// trail see it, and the browser's session.
pub struct Visitor {
    state: AppState,
    client: Client,
    browser: Browser,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response<Body>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let browser = Browser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            client: client_of(state, peer.ip(), &parts.headers),
            state: state.clone(),
            browser,
        })
    }
}

/// `POST /code`.
pub async fn continue_with_code(
    visitor: Visitor,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response<Body> {
    let CodeForm { email, code } = form.map(|Form(form)| form).unwrap_or_default();
    let Visitor {
        state,
        client,
        browser,
    } = &visitor;
    match arrival::continue_with_code(state, client, browser, &email, &code).await {
        Ok(redeemed) => signed_in(state, redeemed.redirect_to).await,
        Err(error) => {
            // The address goes back into the form; one no address can be is dropped.
            let email = if email.len() <= MAX_EMAIL_LEN {
                email
            } else {
                String::new()
            };
            let answer = |error| FormAnswer::CodeRefused { error, email };
            refusal(state, "/code", error, answer).await
        }
    }
}

/// `POST /link`.
pub async fn continue_link(
    visitor: Visitor,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response<Body> {
    let token = form.map(|Form(form)| form.token).unwrap_or_default();
    let state = &visitor.state;
    let signed = arrival::continue_with_token(state, &visitor.client, &visitor.browser, &token);
    match signed.await {
        Ok(redeemed) => signed_in(state, redeemed.redirect_to).await,
        Err(error) => refused(state, error, token).await,
    }
}

/// `POST /link/renew`.
pub async fn renew_link(
    visitor: Visitor,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response<Body> {
    let Visitor { state, client, .. } = visitor;
    let token = form.map(|Form(form)| form.token).unwrap_or_default();
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

/// Signed in: a 303 to a page of Latchkey; to another origin (an application), a page
/// that moves on by itself (see [`FormAnswer::Leaving`]).
async fn signed_in(state: &AppState, to: String) -> Response<Body> {
    if to.starts_with('/') && !to.starts_with("//") {
        return Redirect::to(&to).into_response();
    }
    render(
        state,
        "/link",
        FormAnswer::Leaving { url: to },
        StatusCode::OK,
    )
    .await
}

/// The /link page saying why `token` was refused, offering a new link when it may be had.
async fn refused(state: &AppState, error: AppError, token: String) -> Response<Body> {
    let offered = matches!(error, AppError::LinkUsed | AppError::LinkExpired)
        && arrival::renewal_offered(state, &token)
            .await
            .unwrap_or(false);
    let renewal = offered.then_some(FormToken(token));
    let answer = |error| FormAnswer::LinkRefused { error, renewal };
    refusal(state, "/link", error, answer).await
}

/// The page at `path` answering `error`, with the status (and `Retry-After`) the server
/// functions answer it with.
async fn refusal(
    state: &AppState,
    path: &'static str,
    error: AppError,
    answer: impl FnOnce(AppError) -> FormAnswer,
) -> Response<Body> {
    let status = status_of(&error);
    let retry_after = error.retry_after_secs();
    let mut response = render(state, path, answer(error), status).await;
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

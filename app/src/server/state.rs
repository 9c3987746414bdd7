//! The state every request handler and server function shares.

use super::config::Config;
use super::limits::Limits;
use super::mail::Postman;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: SqlitePool,
    pub postman: Postman,
    pub config: Arc<Config>,
    pub limits: Arc<Limits>,
}

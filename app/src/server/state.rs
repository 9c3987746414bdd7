//! The state every request handler and server function shares.

use super::auth::PreparedRecords;
use super::config::Config;
use super::limits::Limits;
use super::mail::Postman;
use super::redeemer::Redeemer;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// For reads: several connections, reading side by side.
    pub db: SqlitePool,
    /// For writes: one connection (see [`super::db::connect_writer`]).
    #[from_ref(skip)]
    pub writer: SqlitePool,
    pub postman: Postman,
    pub config: Arc<Config>,
    pub limits: Arc<Limits>,
    /// Session records redeems wrote themselves (see [`PreparedRecords`]).
    #[from_ref(skip)]
    pub prepared_records: PreparedRecords,
    /// Invitation redeems, committed together (see [`Redeemer`]).
    #[from_ref(skip)]
    pub redeemer: Redeemer,
}

//! The state every request handler and server function shares: the composition root.
//! It names only leaf modules (configuration, stores, queues, the postman, the gate),
//! never the domain modules that use it.

use super::codes::CodeKey;
use super::config::Config;
use super::gate::Gate;
use super::group::GroupCommit;
use super::limits::Limits;
use super::mail::Postman;
use super::signins::SigninQueue;
use super::store::deliveries::DeliveryOutcome;
use super::store::links::NewLink;
use super::store::redeems::Redeem;
use super::store::session_records::PreparedRecords;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::AnyPool;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// For reads: several connections, reading side by side.
    pub db: AnyPool,
    /// For writes: one connection (see [`super::db::connect_writer`]).
    #[from_ref(skip)]
    pub writer: AnyPool,
    pub postman: Postman,
    pub config: Arc<Config>,
    pub limits: Arc<Limits>,
    /// The secret one-time codes are stored under (see [`super::codes`]).
    #[from_ref(skip)]
    pub code_key: Arc<CodeKey>,
    /// Session records redeems wrote themselves (see [`PreparedRecords`]).
    #[from_ref(skip)]
    pub prepared_records: PreparedRecords,
    /// Writes committed together with those that arrive at the same time (see
    /// [`super::group`]): invitation redeems, new invitations, delivery outcomes.
    #[from_ref(skip)]
    pub redeems: GroupCommit<Redeem>,
    #[from_ref(skip)]
    pub issues: GroupCommit<NewLink>,
    #[from_ref(skip)]
    pub deliveries: GroupCommit<DeliveryOutcome>,
    /// Sign-in requests waiting to be worked (see [`super::signins`]).
    #[from_ref(skip)]
    pub signins: SigninQueue,
    /// The gate, with its memory of sessions (see [`super::gate`]).
    #[from_ref(skip)]
    pub gate: Arc<Gate>,
}

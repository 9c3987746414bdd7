//! The domain behind the server functions: tokens, links, sessions, mail and storage.
//! Compiled only into the server (`ssr`).
//!
//! A server function (`crate::api`) finds out who is calling ([`request`], [`auth`]),
//! parses its input and calls one domain function ([`links`], [`coworkers`]); the
//! domain opens the transaction and runs the SQL of [`store`], one module per table;
//! mail goes out through [`mail`]. Nothing here points back up to `api` or the pages.
//!
//! ```text
//! state.rs         AppState, the composition root (names only the leaf modules)
//! request.rs       per-request access: state, session, client, role checks
//! auth.rs          signed-in sessions: attach at redeem, who is calling, sign out
//! arrival.rs       a link's holder arrives: continue, renew (forms and server functions)
//! applications.rs  applications behind the gate: registering them, safe returns (`rd`)
//! urls.rs          web URLs read as browsers read them; base URLs and containment
//! gate/            the gate: decisions from memory for proxied requests, its cookie
//! links/           magic links: issue, deliver, list, redeem, manage, reissue
//! coworkers.rs     adding, removing and changing roles of coworkers
//! store/           every SQL statement, one module per table (see its map)
//! db.rs            connecting, migrating, write transactions, batches
//! postgres.rs      PostgreSQL: connecting and migrating (not yet serving)
//! group.rs         group commit: writes that arrive together share a transaction
//! signins.rs       the bounded queue of /login requests, worked off the request path
//! housekeeping.rs  the periodic sweep of dead sessions, token hashes and outbox files
//! mail.rs          composing and sending the letters
//! metrics.rs       what is counted for the operators (names, labels), once
//! tokens.rs        256-bit tokens and their SHA-256 hashes
//! codes.rs         one-time codes (another device's way in) and the key they are kept under
//! email.rs         parsing and masking addresses
//! limits.rs        rate limits per network and per address
//! network.rs       which network an address counts as (IPv6 by prefix)
//! config.rs        configuration from the environment
//! files.rs         private (0600/0700) files and the outbox's pruning
//! headers.rs       security headers and the content security policy
//! ```

pub mod applications;
pub mod arrival;
pub mod auth;
pub mod codes;
pub mod config;
pub mod coworkers;
pub mod db;
pub mod email;
pub mod files;
pub mod gate;
pub mod group;
pub mod headers;
pub mod housekeeping;
pub mod limits;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod network;
pub mod postgres;
pub mod request;
pub mod signins;
pub mod state;
pub mod store;
pub mod tokens;
pub mod urls;

use crate::error::AppError;
use std::any::Any;
use std::fmt::Display;

/// Current time as unix seconds, UTC.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Turns a fault into [`AppError::Internal`], logging what was being done and why it failed.
/// A database that could not take the work now ([`db::is_busy`]: locked for the whole
/// busy timeout, or unreachable), also as the session layer's store reports it, becomes
/// [`AppError::Busy`]: nothing was written, and trying again later can succeed.
pub trait OrInternal<T> {
    fn or_internal(self, doing: &'static str) -> Result<T, AppError>;
}

impl<T, E: Display + 'static> OrInternal<T> for Result<T, E> {
    fn or_internal(self, doing: &'static str) -> Result<T, AppError> {
        self.map_err(|error| {
            let error_ref = &error as &dyn Any;
            let store_busy = matches!(
                error_ref.downcast_ref::<tower_sessions::session::Error>(),
                Some(tower_sessions::session::Error::Store(
                    tower_sessions::session_store::Error::Backend(text)
                )) if text == store::session_records::STORE_BUSY
            );
            if store_busy
                || error_ref
                    .downcast_ref::<sqlx::Error>()
                    .is_some_and(db::is_busy)
            {
                tracing::warn!(%error, "{doing} gave up: the database stayed busy");
                return AppError::Busy;
            }
            tracing::error!(%error, "{doing} failed");
            AppError::Internal
        })
    }
}

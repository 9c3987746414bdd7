//! The domain behind the server functions: tokens, links, sessions, mail and storage.
//! Compiled only into the server (`ssr`).

pub mod auth;
pub mod config;
pub mod coworkers;
pub mod db;
pub mod email;
pub mod events;
pub mod files;
pub mod group;
pub mod headers;
pub mod housekeeping;
pub mod limits;
pub mod links;
pub mod mail;
pub mod network;
pub mod redeemer;
pub mod signins;
pub mod state;
pub mod tokens;

use crate::error::AppError;
use std::any::Any;
use std::fmt::Display;

/// Current time as unix seconds, UTC.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Turns a fault into [`AppError::Internal`], logging what was being done and why it failed.
/// A database that stayed locked for the whole busy timeout becomes [`AppError::Busy`]:
/// nothing was written, and trying again later can succeed.
pub trait OrInternal<T> {
    fn or_internal(self, doing: &'static str) -> Result<T, AppError>;
}

impl<T, E: Display + 'static> OrInternal<T> for Result<T, E> {
    fn or_internal(self, doing: &'static str) -> Result<T, AppError> {
        self.map_err(|error| {
            if (&error as &dyn Any)
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

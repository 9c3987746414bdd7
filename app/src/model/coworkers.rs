//! Coworkers, as admins manage them.

use serde::{Deserialize, Serialize};

/// A coworker, as admins manage them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct CoworkerInfo {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::server::store::flag::Flag"))]
    pub is_admin: bool,
    pub created_at: i64,
    /// Set once the coworker was deactivated.
    pub deactivated_at: Option<i64>,
}

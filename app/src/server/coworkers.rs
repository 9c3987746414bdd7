//! Coworkers: the people inside the organisation who issue links. Adding, removing and
//! changing roles, each in one transaction over the stores it touches.

use super::email::EmailAddress;
use super::gate::{self, subject::Subject};
use super::store::{self, links, sessions};
use super::{db, now};
use sqlx::AnyPool;

pub use super::store::coworkers::{active_id, all, find_active, list, Coworker};

/// A coworker's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Coworker,
    /// Also manages coworkers.
    Admin,
}

impl Role {
    /// `coworker` or `admin`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "coworker" => Some(Self::Coworker),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coworker => "coworker",
            Self::Admin => "admin",
        }
    }

    pub fn of(is_admin: bool) -> Self {
        if is_admin {
            Self::Admin
        } else {
            Self::Coworker
        }
    }

    pub fn is_admin(self) -> bool {
        self == Self::Admin
    }
}

/// What `set_role` and `deactivate` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    Done,
    /// No active coworker has this id or address.
    NotFound,
    /// Refused: it would leave the organisation without an active admin.
    LastAdmin,
}

/// What `add` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Created,
    Reactivated,
    AlreadyActive,
}

/// Adds a coworker, or reactivates one that was removed. The first coworker is an admin.
pub async fn add(pool: &AnyPool, email: &EmailAddress, name: Option<&str>) -> sqlx::Result<Added> {
    add_as(pool, email, name, Role::Coworker).await
}

/// [`add`] with the role given (the first coworker is an admin whatever the role). A
/// deactivated coworker comes back with that role, not the one they had.
pub async fn add_as(
    pool: &AnyPool,
    email: &EmailAddress,
    name: Option<&str>,
    role: Role,
) -> sqlx::Result<Added> {
    let admin = role.is_admin();
    let mut tx = db::begin_write(pool).await?;
    let outcome = match store::coworkers::by_email(&mut tx, email).await? {
        Some((_, None)) => (Added::AlreadyActive, None),
        Some((id, Some(_))) => {
            store::coworkers::reactivate(&mut tx, id, name, admin).await?;
            (Added::Reactivated, Some(id))
        }
        None => {
            store::coworkers::insert(&mut tx, email, name, admin, now()).await?;
            (Added::Created, None)
        }
    };
    tx.commit().await?;
    let (outcome, changed) = outcome;
    if let Some(id) = changed {
        gate::changed(Subject::Coworker(id));
    }
    Ok(outcome)
}

/// Deactivates a coworker and ends every session they have, in one transaction.
pub async fn remove(pool: &AnyPool, email: &EmailAddress) -> sqlx::Result<Changed> {
    match active_id(pool, email).await? {
        Some(id) => deactivate(pool, id, None).await,
        None => Ok(Changed::NotFound),
    }
}

/// Gives active coworker `id` the role `role`, unless that would leave the organisation
/// without an active admin.
pub async fn set_role(pool: &AnyPool, id: i64, role: Role) -> sqlx::Result<Changed> {
    let mut tx = db::begin_write(pool).await?;
    let outcome = if store::coworkers::set_admin(&mut tx, id, role.is_admin()).await? {
        Changed::Done
    } else {
        why_unchanged(&mut tx, id).await?
    };
    tx.commit().await?;
    gate::changed(Subject::Coworker(id));
    Ok(outcome)
}

/// Why a conditional change to active coworker `id` changed nothing.
async fn why_unchanged(tx: &mut sqlx::AnyConnection, id: i64) -> sqlx::Result<Changed> {
    Ok(if store::coworkers::is_active(tx, id).await? {
        Changed::LastAdmin
    } else {
        Changed::NotFound
    })
}

/// Deactivates coworker `id` (by admin `by`, when an admin did it), ends their sessions
/// and revokes their unused sign-in links, in one transaction; never the organisation's
/// last active admin.
pub async fn deactivate(pool: &AnyPool, id: i64, by: Option<i64>) -> sqlx::Result<Changed> {
    let at = now();
    let mut tx = db::begin_write(pool).await?;
    if !store::coworkers::deactivate(&mut tx, id, at).await? {
        return why_unchanged(&mut tx, id).await;
    }
    sessions::end_for_coworker(&mut tx, id, by, at).await?;
    links::revoke_unused_signins(&mut tx, id, at).await?;
    tx.commit().await?;
    gate::changed(Subject::Coworker(id));
    Ok(Changed::Done)
}

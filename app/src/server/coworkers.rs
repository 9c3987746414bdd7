//! Coworkers: the people inside the organisation who issue links.

use super::email::EmailAddress;
use super::{db, now};
use sqlx::SqlitePool;

/// A coworker as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Coworker {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub is_admin: bool,
    pub created_at: i64,
}

impl Coworker {
    /// The name to show, falling back to the address.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.email)
    }
}

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

/// SQL that holds while coworker `?1` is not the organisation's last active admin.
/// A fixed fragment, spliced into the statements that could remove that admin.
const NOT_LAST_ADMIN: &str = "(NOT is_admin OR EXISTS (SELECT 1 FROM coworkers o
                               WHERE o.is_admin AND o.deactivated_at IS NULL AND o.id != ?1))";

/// What `add` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Created,
    Reactivated,
    AlreadyActive,
}

/// Adds a coworker, or reactivates one that was removed. The first coworker is an admin.
pub async fn add(
    pool: &SqlitePool,
    email: &EmailAddress,
    name: Option<&str>,
) -> sqlx::Result<Added> {
    add_as(pool, email, name, Role::Coworker).await
}

/// [`add`] with the role given (the first coworker is an admin whatever the role). A
/// deactivated coworker comes back with that role, not the one they had.
pub async fn add_as(
    pool: &SqlitePool,
    email: &EmailAddress,
    name: Option<&str>,
    role: Role,
) -> sqlx::Result<Added> {
    let admin = role.is_admin();
    let mut tx = db::begin_write(pool).await?;
    let existing: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT id, deactivated_at FROM coworkers WHERE email = ?1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let outcome = match existing {
        Some((_, None)) => Added::AlreadyActive,
        Some((id, Some(_))) => {
            sqlx::query(
                "UPDATE coworkers SET deactivated_at = NULL, name = COALESCE(?2, name),
                                      is_admin = ?3
                 WHERE id = ?1",
            )
            .bind(id)
            .bind(name)
            .bind(admin)
            .execute(&mut *tx)
            .await?;
            Added::Reactivated
        }
        None => {
            sqlx::query(
                "INSERT INTO coworkers (email, name, is_admin, created_at)
                 VALUES (?1, ?2, ?4 OR NOT EXISTS (SELECT 1 FROM coworkers), ?3)",
            )
            .bind(email.as_str())
            .bind(name)
            .bind(now())
            .bind(admin)
            .execute(&mut *tx)
            .await?;
            Added::Created
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Active coworkers, oldest first.
pub async fn list(pool: &SqlitePool) -> sqlx::Result<Vec<Coworker>> {
    sqlx::query_as(
        "SELECT id, email, name, is_admin, created_at FROM coworkers
         WHERE deactivated_at IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// The active coworker with this address, if any.
pub async fn find_active(
    pool: &SqlitePool,
    email: &EmailAddress,
) -> sqlx::Result<Option<Coworker>> {
    sqlx::query_as(
        "SELECT id, email, name, is_admin, created_at FROM coworkers
         WHERE email = ?1 AND deactivated_at IS NULL",
    )
    .bind(email.as_str())
    .fetch_optional(pool)
    .await
}

/// Every coworker, active ones first, then by when they were added.
pub async fn all(pool: &SqlitePool) -> sqlx::Result<Vec<crate::model::CoworkerInfo>> {
    sqlx::query_as(
        "SELECT id, email, name, is_admin, created_at, deactivated_at FROM coworkers
         ORDER BY deactivated_at IS NOT NULL, id",
    )
    .fetch_all(pool)
    .await
}

/// The id of the active coworker with this address.
pub async fn active_id(pool: &SqlitePool, email: &EmailAddress) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM coworkers WHERE email = ?1 AND deactivated_at IS NULL")
        .bind(email.as_str())
        .fetch_optional(pool)
        .await
}

/// Deactivates a coworker and ends every session they have, in one transaction.
pub async fn remove(pool: &SqlitePool, email: &EmailAddress) -> sqlx::Result<Changed> {
    match active_id(pool, email).await? {
        Some(id) => deactivate(pool, id, None).await,
        None => Ok(Changed::NotFound),
    }
}

/// Gives active coworker `id` the role `role`, unless that would leave the organisation
/// without an active admin. One conditional statement, so two admins demoting each other
/// at once cannot both succeed.
pub async fn set_role(pool: &SqlitePool, id: i64, role: Role) -> sqlx::Result<Changed> {
    let mut tx = db::begin_write(pool).await?;
    let changed = sqlx::query(&format!(
        "UPDATE coworkers SET is_admin = ?2
         WHERE id = ?1 AND deactivated_at IS NULL AND (?2 OR {NOT_LAST_ADMIN})"
    ))
    .bind(id)
    .bind(role.is_admin())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let outcome = if changed == 1 {
        Changed::Done
    } else {
        why_unchanged(&mut tx, id).await?
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Why a conditional change to active coworker `id` changed nothing.
async fn why_unchanged(tx: &mut sqlx::SqliteConnection, id: i64) -> sqlx::Result<Changed> {
    let active: Option<i64> =
        sqlx::query_scalar("SELECT id FROM coworkers WHERE id = ?1 AND deactivated_at IS NULL")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(if active.is_some() {
        Changed::LastAdmin
    } else {
        Changed::NotFound
    })
}

/// Deactivates coworker `id` (by admin `by`, when an admin did it), ends their sessions
/// and revokes their unused sign-in links, in one transaction; never the organisation's
/// last active admin.
pub async fn deactivate(pool: &SqlitePool, id: i64, by: Option<i64>) -> sqlx::Result<Changed> {
    let at = now();
    let mut tx = db::begin_write(pool).await?;
    let changed = sqlx::query(&format!(
        "UPDATE coworkers SET deactivated_at = ?2
         WHERE id = ?1 AND deactivated_at IS NULL AND {NOT_LAST_ADMIN}"
    ))
    .bind(id)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return why_unchanged(&mut tx, id).await;
    }
    sqlx::query(
        "UPDATE auth_sessions SET ended_at = ?2, end_reason = 'coworker_deactivated', ended_by = ?3
         WHERE coworker_id = ?1 AND ended_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    // Their unused sign-in links must not let them back in.
    sqlx::query(
        "UPDATE magic_links SET revoked_at = ?2
         WHERE coworker_id = ?1 AND purpose = 'signin' AND redeemed_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Changed::Done)
}

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
    add_as(pool, email, name, false).await
}

/// [`add`], making the coworker an admin when `admin` (the first one always is).
pub async fn add_as(
    pool: &SqlitePool,
    email: &EmailAddress,
    name: Option<&str>,
    admin: bool,
) -> sqlx::Result<Added> {
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
                                      is_admin = is_admin OR ?3
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

/// Deactivates a coworker and ends every session they have, in one transaction.
/// Returns false when no active coworker has this address.
pub async fn remove(pool: &SqlitePool, email: &EmailAddress) -> sqlx::Result<bool> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM coworkers WHERE email = ?1 AND deactivated_at IS NULL")
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?;
    match id {
        Some(id) => deactivate(pool, id, None).await,
        None => Ok(false),
    }
}

/// Deactivates coworker `id` (by admin `by`, when an admin did it), ends their sessions
/// and revokes their unused sign-in links, in one transaction. False when no active
/// coworker has this id.
pub async fn deactivate(pool: &SqlitePool, id: i64, by: Option<i64>) -> sqlx::Result<bool> {
    let at = now();
    let mut tx = db::begin_write(pool).await?;
    let changed = sqlx::query(
        "UPDATE coworkers SET deactivated_at = ?2 WHERE id = ?1 AND deactivated_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
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
    Ok(true)
}

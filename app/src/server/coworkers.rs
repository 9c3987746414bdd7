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
    let mut tx = db::begin_write(pool).await?;
    let existing: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT id, deactivated_at FROM coworkers WHERE email = ?1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let outcome = match existing {
        Some((_, None)) => Added::AlreadyActive,
        Some((id, Some(_))) => {
            sqlx::query("UPDATE coworkers SET deactivated_at = NULL, name = COALESCE(?2, name) WHERE id = ?1")
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            Added::Reactivated
        }
        None => {
            sqlx::query(
                "INSERT INTO coworkers (email, name, is_admin, created_at)
                 VALUES (?1, ?2, NOT EXISTS (SELECT 1 FROM coworkers), ?3)",
            )
            .bind(email.as_str())
            .bind(name)
            .bind(now())
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

/// Deactivates a coworker and ends every session they have, in one transaction.
/// Returns false when no active coworker has this address.
pub async fn remove(pool: &SqlitePool, email: &EmailAddress) -> sqlx::Result<bool> {
    let at = now();
    let mut tx = db::begin_write(pool).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE coworkers SET deactivated_at = ?2
         WHERE email = ?1 AND deactivated_at IS NULL RETURNING id",
    )
    .bind(email.as_str())
    .bind(at)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE auth_sessions SET ended_at = ?2, end_reason = 'coworker_deactivated'
         WHERE coworker_id = ?1 AND ended_at IS NULL",
    )
    .bind(id)
    .bind(at)
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

//! The `coworkers` table: the people inside the organisation who issue links.

use crate::model::coworkers::CoworkerInfo;
use crate::server::email::EmailAddress;
use sqlx::{Any, AnyConnection, Executor};

/// A coworker as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Coworker {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    #[sqlx(try_from = "crate::server::store::flag::Flag")]
    pub is_admin: bool,
    pub created_at: i64,
}

impl Coworker {
    /// The name to show, falling back to the address.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.email)
    }
}

/// SQL that holds while coworker `$1` is not the organisation's last active admin.
/// A fixed fragment, spliced into the statements that could remove that admin.
macro_rules! not_last_admin_sql {
    () => {
        "(NOT is_admin OR EXISTS (SELECT 1 FROM coworkers o
                                  WHERE o.is_admin AND o.deactivated_at IS NULL AND o.id != $1))"
    };
}

/// The coworker with this address, active or not: their id and when they were removed.
pub async fn by_email(
    conn: &mut AnyConnection,
    email: &EmailAddress,
) -> sqlx::Result<Option<(i64, Option<i64>)>> {
    sqlx::query_as("SELECT id, deactivated_at FROM coworkers WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(conn)
        .await
}

/// Brings removed coworker `id` back, with `admin` as their role and `name` if given.
pub async fn reactivate(
    conn: &mut AnyConnection,
    id: i64,
    name: Option<&str>,
    admin: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE coworkers SET deactivated_at = NULL, name = COALESCE($2, name), is_admin = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(admin)
    .execute(conn)
    .await
    .map(drop)
}

/// Adds a coworker; the organisation's first is an admin whatever `admin` says.
pub async fn insert(
    conn: &mut AnyConnection,
    email: &EmailAddress,
    name: Option<&str>,
    admin: bool,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO coworkers (email, name, is_admin, created_at)
         VALUES ($1, $2, $4 OR NOT EXISTS (SELECT 1 FROM coworkers), $3)",
    )
    .bind(email.as_str())
    .bind(name)
    .bind(at)
    .bind(admin)
    .execute(conn)
    .await
    .map(drop)
}

/// Active coworkers, oldest first.
pub async fn list<'e, E>(executor: E) -> sqlx::Result<Vec<Coworker>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(
        "SELECT id, email, name, is_admin, created_at FROM coworkers
         WHERE deactivated_at IS NULL ORDER BY id",
    )
    .fetch_all(executor)
    .await
}

/// The active coworker with this address, if any.
pub async fn find_active<'e, E>(executor: E, email: &EmailAddress) -> sqlx::Result<Option<Coworker>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(
        "SELECT id, email, name, is_admin, created_at FROM coworkers
         WHERE email = $1 AND deactivated_at IS NULL",
    )
    .bind(email.as_str())
    .fetch_optional(executor)
    .await
}

/// Every coworker, active ones first, then by when they were added.
pub async fn all<'e, E>(executor: E) -> sqlx::Result<Vec<CoworkerInfo>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(
        "SELECT id, email, name, is_admin, created_at, deactivated_at FROM coworkers
         ORDER BY deactivated_at IS NOT NULL, id",
    )
    .fetch_all(executor)
    .await
}

/// The id of the active coworker with this address.
pub async fn active_id<'e, E>(executor: E, email: &EmailAddress) -> sqlx::Result<Option<i64>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_scalar("SELECT id FROM coworkers WHERE email = $1 AND deactivated_at IS NULL")
        .bind(email.as_str())
        .fetch_optional(executor)
        .await
}

/// Whether coworker `id` is active.
pub async fn is_active(conn: &mut AnyConnection, id: i64) -> sqlx::Result<bool> {
    let active: Option<i64> =
        sqlx::query_scalar("SELECT id FROM coworkers WHERE id = $1 AND deactivated_at IS NULL")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(active.is_some())
}

/// Makes active coworker `id` an admin or not, unless that would demote the last active
/// admin; answers whether it changed. One conditional statement, so two admins demoting
/// each other at once cannot both succeed.
pub async fn set_admin(conn: &mut AnyConnection, id: i64, admin: bool) -> sqlx::Result<bool> {
    let changed = sqlx::query(concat!(
        "UPDATE coworkers SET is_admin = $2
         WHERE id = $1 AND deactivated_at IS NULL AND ($2 OR ",
        not_last_admin_sql!(),
        ")"
    ))
    .bind(id)
    .bind(admin)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Marks active coworker `id` removed at `at`, unless they are the last active admin;
/// answers whether it changed.
pub async fn deactivate(conn: &mut AnyConnection, id: i64, at: i64) -> sqlx::Result<bool> {
    let changed = sqlx::query(concat!(
        "UPDATE coworkers SET deactivated_at = $2
         WHERE id = $1 AND deactivated_at IS NULL AND ",
        not_last_admin_sql!()
    ))
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

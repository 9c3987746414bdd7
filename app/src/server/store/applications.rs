//! The `applications` table, which applications each invitation opens
//! (`link_applications`), and which each session has reached (`session_applications`).

use crate::model::applications::ApplicationInfo;
use crate::server::urls::BaseUrl;
use sqlx::{Any, AnyConnection, Executor};

/// A registered application.
#[derive(Debug, Clone)]
pub struct Application {
    pub id: i64,
    pub name: String,
    pub base: BaseUrl,
}

impl Application {
    pub fn info(self) -> ApplicationInfo {
        ApplicationInfo {
            id: self.id,
            url: self.base.to_string(),
            name: self.name,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    scheme: String,
    host: String,
    port: Option<i64>,
    path_prefix: String,
}

impl From<Row> for Application {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            name: row.name,
            base: BaseUrl {
                scheme: row.scheme,
                host: row.host,
                port: row.port.and_then(|port| u16::try_from(port).ok()),
                path_prefix: row.path_prefix,
            },
        }
    }
}

const COLUMNS: &str = "a.id, a.name, a.scheme, a.host, a.port, a.path_prefix";

/// Every application, in the order they were registered.
pub async fn all<'e, E>(executor: E) -> sqlx::Result<Vec<Application>>
where
    E: Executor<'e, Database = Any>,
{
    let rows: Vec<Row> = sqlx::query_as(&format!(
        // Assembled from a fixed fragment only.
        "SELECT {COLUMNS} FROM applications a ORDER BY a.id"
    ))
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(Application::from).collect())
}

/// The applications invitation `link_id` opens, in the order they were registered.
pub async fn of_link<'e, E>(executor: E, link_id: i64) -> sqlx::Result<Vec<Application>>
where
    E: Executor<'e, Database = Any>,
{
    let rows: Vec<Row> = sqlx::query_as(&format!(
        // Assembled from a fixed fragment only.
        "SELECT {COLUMNS} FROM link_applications la JOIN applications a ON a.id = la.application_id
         WHERE la.link_id = $1 ORDER BY a.id"
    ))
    .bind(link_id)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(Application::from).collect())
}

/// The names of the applications a link opens, one per line, for the list's rows: over
/// `magic_links l`.
/// Read in the primary key's order (`application_id`), so no sort is needed. (The
/// separator is a newline character inside the literal: SQLite's `char(10)` has no
/// PostgreSQL spelling that SQLite also takes.)
pub const NAMES_OF_LINK_SQL: &str = "(SELECT group_concat(name, '\n') FROM
        (SELECT a.name FROM link_applications la JOIN applications a ON a.id = la.application_id
          WHERE la.link_id = l.id ORDER BY la.application_id) AS opened)";

/// Registers an application; answers its id.
pub async fn insert(
    conn: &mut AnyConnection,
    name: &str,
    base: &BaseUrl,
    at: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO applications (name, scheme, host, port, path_prefix, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name)
    .bind(&base.scheme)
    .bind(&base.host)
    .bind(base.port.map(i64::from))
    .bind(&base.path_prefix)
    .bind(at)
    .fetch_one(conn)
    .await
}

/// Removes the application named `name` (any case); answers whether there was one.
pub async fn remove<'e, E>(executor: E, name: &str) -> sqlx::Result<bool>
where
    E: Executor<'e, Database = Any>,
{
    let removed = sqlx::query("DELETE FROM applications WHERE lower(name) = lower($1)")
        .bind(name)
        .execute(executor)
        .await?
        .rows_affected();
    Ok(removed > 0)
}

/// Sets the applications invitation `link_id` opens to `ids`.
pub async fn set_for_link(conn: &mut AnyConnection, link_id: i64, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM link_applications WHERE link_id = $1")
        .bind(link_id)
        .execute(&mut *conn)
        .await?;
    for id in ids {
        sqlx::query("INSERT INTO link_applications (link_id, application_id) VALUES ($1, $2)")
            .bind(link_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Copies the applications link `from` opens to link `to` (a resend or a renewal).
pub async fn copy_to(conn: &mut AnyConnection, from: i64, to: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO link_applications (link_id, application_id)
         SELECT $2, application_id FROM link_applications WHERE link_id = $1",
    )
    .bind(from)
    .bind(to)
    .execute(conn)
    .await
    .map(drop)
}

/// Records that session `session_id` reached application `application_id`; answers
/// whether this was the first time. (Nothing, when the session has been forgotten
/// meanwhile: the gate writes reaches behind its decisions.)
pub async fn reached<'e, E>(
    executor: E,
    session_id: &str,
    application_id: i64,
) -> sqlx::Result<bool>
where
    E: Executor<'e, Database = Any>,
{
    let inserted = sqlx::query(
        "INSERT INTO session_applications (session_id, application_id)
         SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM auth_sessions WHERE id = $1)
             AND EXISTS (SELECT 1 FROM applications WHERE id = $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(session_id)
    .bind(application_id)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

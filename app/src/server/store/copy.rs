//! Copying a SQLite installation into an empty PostgreSQL database (`latchkey copy-db`):
//! every table Latchkey keeps, rows and ids as they are, read from one snapshot and
//! written in one transaction, so the target ends up with all of it or none of it.
//!
//! Statements are assembled from fixed fragments only: the table names below and the
//! column names PostgreSQL's catalogue lists for them, each quoted as an identifier
//! ([`quoted`]); values are always bound.

use super::flag::Flag;
use anyhow::{bail, Context, Result};
use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// The tables, in an order that respects every foreign key, each with the order its rows
/// are read in (a link may name the one it replaces, always an older one).
const TABLES: [(&str, &str); 8] = [
    ("coworkers", "id"),
    ("applications", "id"),
    ("magic_links", "id"),
    ("link_applications", "link_id, application_id"),
    ("auth_sessions", "rowid"),
    ("session_applications", "session_id, application_id"),
    ("link_events", "id"),
    ("tower_sessions", "id"),
];

/// The columns numbered by PostgreSQL whose counters must continue after the copied rows.
const NUMBERED: [(&str, &str); 5] = [
    ("coworkers", "id"),
    ("applications", "id"),
    ("magic_links", "id"),
    ("link_events", "id"),
    ("auth_sessions", "rowid"),
];

/// Rows per INSERT.
const BATCH: usize = 200;

/// How many rows each table had, as copied.
pub type Copied = Vec<(&'static str, i64)>;

/// Copies everything from `source` (SQLite) into `target` (PostgreSQL, migrated, empty).
pub async fn sqlite_to_postgres(source: &AnyPool, target: &AnyPool) -> Result<Copied> {
    let mut read = source
        .begin()
        .await
        .context("reading the SQLite database")?;
    let mut write = target.begin().await.context("writing to PostgreSQL")?;
    let mut nonempty = Vec::new();
    for (table, _) in TABLES {
        let rows = count(&mut write, table).await?;
        if rows > 0 {
            nonempty.push(format!("{table}: {rows} rows"));
        }
    }
    if !nonempty.is_empty() {
        bail!(
            "the target database is not empty ({}); copy into a new, empty database",
            nonempty.join(", ")
        );
    }
    // Copied sessions already have their `redeemed` events, copied with the trail.
    sqlx::query("ALTER TABLE auth_sessions DISABLE TRIGGER auth_sessions_opened")
        .execute(&mut *write)
        .await?;
    let mut copied = Vec::new();
    for (table, order) in TABLES {
        let columns = columns(&mut write, table).await?;
        let names: Vec<String> = columns.iter().map(|(name, _)| quoted(name)).collect();
        let select = format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "));
        let mut rows = sqlx::query(&select).fetch(&mut *read);
        let mut batch = Vec::with_capacity(BATCH);
        let mut written = 0;
        while let Some(row) = rows
            .try_next()
            .await
            .with_context(|| format!("reading {table}"))?
        {
            batch.push(row);
            if batch.len() == BATCH {
                written += insert(&mut write, table, &columns, &batch).await?;
                batch.clear();
            }
        }
        drop(rows);
        written += insert(&mut write, table, &columns, &batch).await?;
        let (source_rows, target_rows) = (
            count(&mut read, table).await?,
            count(&mut write, table).await?,
        );
        if source_rows != target_rows || written != source_rows {
            bail!("{table}: {source_rows} rows in SQLite, {target_rows} copied; nothing was kept");
        }
        copied.push((table, target_rows));
    }
    sqlx::query("ALTER TABLE auth_sessions ENABLE TRIGGER auth_sessions_opened")
        .execute(&mut *write)
        .await?;
    for (table, column) in NUMBERED {
        sqlx::query(&format!(
            "SELECT 1 FROM (SELECT setval(pg_get_serial_sequence('{table}', '{column}'), max({column}))
                              FROM {table}) AS continued"
        ))
        .execute(&mut *write)
        .await?;
    }
    write.commit().await.context("committing the copy")?;
    read.rollback().await.ok();
    Ok(copied)
}

/// `name` as a quoted SQL identifier, read the same by SQLite and PostgreSQL: in double
/// quotes, a double quote inside doubled. A name read from a catalogue is data, and may
/// be a keyword (`user`), hold capitals, spaces or quotes.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn count(connection: &mut AnyConnection, table: &str) -> Result<i64> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(connection)
        .await
        .with_context(|| format!("counting {table}"))
}

/// `table`'s columns on PostgreSQL, in order, with their types.
async fn columns(connection: &mut AnyConnection, table: &str) -> Result<Vec<(String, String)>> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(connection)
    .await?;
    if columns.is_empty() {
        bail!("PostgreSQL has no table {table}");
    }
    Ok(columns)
}

/// Inserts `rows` (read from SQLite) into `table`, each value as PostgreSQL's column
/// takes it; answers how many.
async fn insert(
    connection: &mut AnyConnection,
    table: &str,
    columns: &[(String, String)],
    rows: &[AnyRow],
) -> Result<i64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let width = columns.len();
    let values: Vec<String> = (0..rows.len())
        .map(|row| {
            let numbers: Vec<String> = (1..=width)
                .map(|column| format!("${}", row * width + column))
                .collect();
            format!("({})", numbers.join(", "))
        })
        .collect();
    let names: Vec<String> = columns.iter().map(|(name, _)| quoted(name)).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        names.join(", "),
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        for (index, (name, kind)) in columns.iter().enumerate() {
            let read = |error| anyhow::anyhow!("reading {table}.{name}: {error}");
            query = match kind.as_str() {
                "boolean" => query.bind(
                    row.try_get::<Option<Flag>, _>(index)
                        .map_err(read)?
                        .map(bool::from),
                ),
                "bigint" | "integer" | "smallint" => {
                    query.bind(row.try_get::<Option<i64>, _>(index).map_err(read)?)
                }
                "bytea" => query.bind(row.try_get::<Option<Vec<u8>>, _>(index).map_err(read)?),
                _ => query.bind(row.try_get::<Option<String>, _>(index).map_err(read)?),
            };
        }
    }
    query
        .execute(&mut *connection)
        .await
        .with_context(|| format!("copying {table}"))?;
    Ok(rows.len() as i64)
}

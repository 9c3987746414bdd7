//! The SQLite database: opening it with the pragmas Latchkey relies on, and migrating it.

use anyhow::{Context, Result};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// How hard a commit tries to reach the disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a commit is in the write-ahead log when it is
    /// acknowledged, so it survives the process crashing (even `kill -9`); the log is
    /// synced to disk at checkpoints, so a power loss or OS crash can lose the last
    /// moments of commits (never corrupt the database).
    Normal,
    /// `synchronous=FULL`: every commit is synced to disk before it is acknowledged, and
    /// survives a power loss too, at the cost of one fsync per write.
    Full,
}

impl Durability {
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "normal" => Some(Self::Normal),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    fn synchronous(self) -> SqliteSynchronous {
        match self {
            Self::Normal => SqliteSynchronous::Normal,
            Self::Full => SqliteSynchronous::Full,
        }
    }
}

/// The SQLite schema's migrations (`migrations/sqlite/`), built into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// The file a `sqlite://` URL names (without its `?options`), or `None` for another
/// scheme.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let path = url.strip_prefix("sqlite://")?;
    Some(path.split('?').next().unwrap_or(path))
}

/// Opens (creating if missing) the database at `url` and brings its schema up to date.
/// A statement that finds the database locked by another writer retries (SQLite's busy
/// handler) for up to `busy_timeout`, then fails with an error [`is_busy`] recognises.
pub async fn connect(
    url: &str,
    busy_timeout: Duration,
    durability: Durability,
) -> Result<SqlitePool> {
    let path = sqlite_path(url).context("the database URL must start with sqlite://")?;
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        super::files::private_dir(parent)
            .with_context(|| format!("creating the database directory {}", parent.display()))?;
    }
    // The file holds session ids: private before SQLite opens it (see `files`).
    if path != ":memory:" {
        super::files::private_database(Path::new(path))
            .with_context(|| format!("making the database {path} private"))?;
    }

    let options = options(url, busy_timeout, durability)?;
    // Migrations run on a connection of their own with foreign keys off, as SQLite's
    // table rebuilds require; every reference is checked before anything else opens.
    let mut migrating = SqliteConnection::connect_with(&options.clone().foreign_keys(false))
        .await
        .with_context(|| format!("opening the database {path}"))?;
    MIGRATOR
        .run(&mut migrating)
        .await
        .context("running database migrations")?;
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut migrating)
        .await
        .context("checking foreign keys after migrating")?;
    if !broken.is_empty() {
        anyhow::bail!(
            "the database has {} rows whose references point nowhere",
            broken.len()
        );
    }
    migrating.close().await.ok();

    // Readers: a few side by side are plenty on a small machine; each keeps its own
    // SQLite page cache, so more cost memory without adding throughput.
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        // A connection to a local file does not go stale between uses; the default
        // check costs a thread hand-off (a `ping`) on every acquire.
        .test_before_acquire(false)
        // Waiting for a pooled connection is bounded like waiting for the lock.
        .acquire_timeout(busy_timeout + Duration::from_secs(1))
        .connect_with(options)
        .await
        .with_context(|| format!("opening the database {path}"))?;
    Ok(pool)
}

/// A pool of one connection for every write. Writers then queue in order in the pool
/// instead of meeting in SQLite's lock, where the busy handler makes the losers sleep
/// (1, 2, 5, 10… ms) and some starve. Reads keep the pool [`connect`] opened.
pub async fn connect_writer(
    url: &str,
    busy_timeout: Duration,
    durability: Durability,
) -> Result<SqlitePool> {
    SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(busy_timeout + Duration::from_secs(1))
        .connect_with(options(url, busy_timeout, durability)?)
        .await
        .context("opening the database for writing")
}

fn options(
    url: &str,
    busy_timeout: Duration,
    durability: Durability,
) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)
        .context("parsing LATCHKEY_DATABASE_URL")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(durability.synchronous())
        .foreign_keys(true)
        .busy_timeout(busy_timeout))
}

/// Whether the database answers a trivial query (the health check).
pub async fn ping(pool: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
}

/// Writes a consistent copy of the database to the new file `to` while it stays in use
/// (`VACUUM INTO`: one read transaction, so the copy is the database as of one moment,
/// compacted). The copy is made under a temporary name beside `to`, private like the
/// database, and put in place only when whole: a failed backup leaves no file at `to`.
/// An existing `to` is refused, never overwritten.
pub async fn backup(pool: &SqlitePool, to: &Path) -> Result<u64> {
    if to.exists() {
        anyhow::bail!("{} already exists; name a new file", to.display());
    }
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    // An empty file is one VACUUM INTO may write into; made here, it is private.
    super::files::write_private(&partial, &[])
        .with_context(|| format!("creating {}", partial.display()))?;
    let copied = async {
        let name = partial
            .to_str()
            .context("the backup's file name must be UTF-8")?;
        sqlx::query("VACUUM INTO ?1")
            .bind(name)
            .execute(pool)
            .await
            .context("copying the database")?;
        // A link, unlike a rename, refuses a file that appeared at `to` meanwhile.
        std::fs::hard_link(&partial, to)
            .with_context(|| format!("putting the copy at {}", to.display()))?;
        Ok(std::fs::metadata(to)?.len())
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    copied
}

/// Opens a write transaction that takes SQLite's write lock at once, so two writers never
/// both read first and then deadlock upgrading.
pub async fn begin_write(
    pool: &SqlitePool,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Runs `query`, a batch of statements that begins with `BEGIN IMMEDIATE` and ends with
/// `COMMIT`, on the writer connection in one round trip, and answers the rows its
/// statements returned. Sending a transaction's statements together, rather than one by
/// one as [`begin_write`] does, saves the writer connection a thread hand-off for each
/// statement, which on a small machine costs more than the statements themselves.
///
/// The batch runs in a task of its own, so a caller that goes away (a client
/// disconnecting) cannot stop it between its `BEGIN` and its `COMMIT`; if any statement
/// fails, the transaction is rolled back before the connection serves anyone else.
///
/// Parameters: sqlx binds a numbered `?NNN` by its number, but counts the numbers a
/// statement skips towards the later statements' plain `?`s, and once that count passes
/// the number of values it stops binding, leaving the rest NULL. So batches use plain
/// `?`s bound in order (every [`super::group::Job`]); the test below is short enough for
/// a numbered one.
pub async fn batch<O>(
    writer: &SqlitePool,
    query: sqlx::query::QueryAs<'static, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments<'static>>,
) -> sqlx::Result<Vec<O>>
where
    O: Send + Unpin + 'static + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    let writer = writer.clone();
    tokio::spawn(async move {
        let mut connection = writer.acquire().await?;
        let rows = query.fetch_all(&mut *connection).await;
        if rows.is_err() {
            // With no transaction open (BEGIN itself failed), SQLite says so; fine.
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        }
        rows
    })
    .await
    // The task panicked or the runtime is shutting down.
    .map_err(|_| sqlx::Error::WorkerCrashed)?
}

/// Whether `error` means "another connection held the lock for the whole busy timeout"
/// (SQLITE_BUSY or SQLITE_LOCKED, with any extended code), or no connection was free.
pub fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_batch_leaves_nothing_behind_and_the_writer_usable() {
        let writer = connect_writer(
            "sqlite::memory:",
            Duration::from_secs(1),
            Durability::Normal,
        )
        .await
        .unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .execute(&writer)
            .await
            .unwrap();

        // The second insert breaks the key: the first must not stay, and the
        // transaction must not stay open on the one connection.
        let failed = batch(
            &writer,
            sqlx::query_as::<_, ()>(
                "BEGIN IMMEDIATE; INSERT INTO t VALUES (?1); INSERT INTO t VALUES (?1); COMMIT;",
            )
            .bind(1),
        )
        .await;
        assert!(failed.is_err());
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&writer)
            .await
            .unwrap();
        assert_eq!(count, 0);

        let rows: Vec<(i64,)> = batch(
            &writer,
            sqlx::query_as("BEGIN IMMEDIATE; INSERT INTO t VALUES (?1) RETURNING n; COMMIT;")
                .bind(2),
        )
        .await
        .unwrap();
        assert_eq!(rows, [(2,)]);
        let mut tx = begin_write(&writer)
            .await
            .expect("no transaction left open");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(count, 1);
    }
}

//! The database: SQLite (embedded, the default) or PostgreSQL, chosen by the URL's scheme;
//! opening it with the settings Latchkey relies on, migrating it, write transactions.

use anyhow::{Context, Result};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Any, AnyPool, Connection, Executor, SqliteConnection};
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

    fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
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

/// The database engine a URL names: SQLite (`sqlite://`, embedded, the default) or
/// PostgreSQL (`postgres://` or `postgresql://`, for several instances on one database).
/// Queries run through sqlx's `Any` driver and are written once wherever the SQL is the
/// same on both; the few places it differs ask [`Engine::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine `url` names, if any.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if super::postgres::is_postgres_url(url) {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// The engine behind `pool` (which [`connect`] opened, so its URL names one).
    pub fn of(pool: &AnyPool) -> Self {
        Self::of_url(pool.connect_options().database_url.as_str()).unwrap_or(Self::Postgres)
    }
}

/// Opens the database at `url`, bringing its schema up to date first, with a pool for
/// reading. On SQLite (created if missing) a statement that finds the database locked by
/// another writer retries (SQLite's busy handler) for up to `busy_timeout`, then fails
/// with an error [`is_busy`] recognises; on PostgreSQL, several Latchkey instances may
/// migrate at once (the migrator holds an advisory lock).
pub async fn connect(url: &str, busy_timeout: Duration, durability: Durability) -> Result<AnyPool> {
    sqlx::any::install_default_drivers();
    match Engine::of_url(url) {
        Some(Engine::Sqlite) => {
            migrate_sqlite(url, busy_timeout, durability).await?;
            // Readers: a few side by side are plenty on a small machine; each keeps its
            // own SQLite page cache, so more cost memory without adding throughput.
            sqlite_pool(url, 4, busy_timeout, durability)
                .await
                .context("opening the database")
        }
        Some(Engine::Postgres) => {
            super::postgres::connect(url, 1, busy_timeout)
                .await?
                .close()
                .await;
            postgres_pool(url, busy_timeout).await
        }
        None => anyhow::bail!(
            "the database URL must start with sqlite://, postgres:// or postgresql://"
        ),
    }
}

/// The pool every write goes through. On SQLite, one connection: writers then queue in
/// order in the pool instead of meeting in SQLite's lock, where the busy handler makes
/// the losers sleep (1, 2, 5, 10… ms) and some starve; reads keep the pool [`connect`]
/// opened. On PostgreSQL, which takes writes side by side, a pool of its own as large as
/// the readers'.
pub async fn connect_writer(
    url: &str,
    busy_timeout: Duration,
    durability: Durability,
) -> Result<AnyPool> {
    sqlx::any::install_default_drivers();
    match Engine::of_url(url) {
        Some(Engine::Sqlite) => sqlite_pool(url, 1, busy_timeout, durability)
            .await
            .context("opening the database for writing"),
        _ => postgres_pool(url, busy_timeout).await,
    }
}

/// Creates the SQLite file (private) if missing and applies the migrations, on a
/// connection of its own with foreign keys off, as SQLite's table rebuilds require; every
/// reference is checked before anything else opens.
async fn migrate_sqlite(url: &str, busy_timeout: Duration, durability: Durability) -> Result<()> {
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
    let options = SqliteConnectOptions::from_str(url)
        .context("parsing LATCHKEY_DATABASE_URL")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(durability.synchronous())
        .foreign_keys(false)
        .busy_timeout(busy_timeout);
    let mut migrating = SqliteConnection::connect_with(&options)
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
    Ok(())
}

/// A pool of `size` connections to the SQLite database at `url`, each set up with the
/// pragmas Latchkey relies on.
async fn sqlite_pool(
    url: &str,
    size: u32,
    busy_timeout: Duration,
    durability: Durability,
) -> sqlx::Result<AnyPool> {
    let pragmas = format!(
        // Fixed text and numbers only.
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = {};",
        durability.pragma(),
        busy_timeout.as_millis()
    );
    AnyPoolOptions::new()
        .max_connections(size)
        // A connection to a local file does not go stale between uses; the default
        // check costs a thread hand-off (a `ping`) on every acquire.
        .test_before_acquire(false)
        // Waiting for a pooled connection is bounded like waiting for the lock.
        .acquire_timeout(busy_timeout + Duration::from_secs(1))
        .after_connect(move |connection, _| {
            let pragmas = pragmas.clone();
            Box::pin(async move { connection.execute(pragmas.as_str()).await.map(drop) })
        })
        .connect(url)
        .await
}

/// The most connections one instance opens to PostgreSQL, for reading and for writing
/// each: several instances share the server's `max_connections` (100 by default).
pub const POSTGRES_CONNECTIONS: u32 = 16;

async fn postgres_pool(url: &str, busy_timeout: Duration) -> Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        // Connections a burst opened go back to PostgreSQL once idle for a minute.
        .idle_timeout(Duration::from_secs(60))
        .acquire_timeout(busy_timeout + Duration::from_secs(1))
        .connect(url)
        .await
        .context("connecting to PostgreSQL")
}

/// `sql` with each plain `?` numbered in order (`$1`, `$2`, …). Fragments a batch shares
/// keep plain `?`s (see [`batch`]); a statement made of them that runs on its own, on
/// either engine, is numbered first. The fragments hold no `?` inside a literal.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether the database answers a trivial query (the health check).
pub async fn ping(pool: &AnyPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
}

/// The PostgreSQL advisory lock every write transaction holds (any fixed number would
/// do; these are "LATCHKEY" in ASCII, truncated).
const WRITE_LOCK: i64 = 0x4c41_5443_484b_4559;

/// Opens a write transaction. Write transactions take turns, on every instance: each
/// reads the state it changes (a link's, how many admins are left) and decides on it,
/// and taking turns keeps those decisions true. On SQLite the transaction takes the
/// write lock at once (`BEGIN IMMEDIATE`), so two writers never both read first and then
/// deadlock upgrading; on PostgreSQL it holds one advisory lock until it ends. The hot
/// writes (issue, redeem, delivery) are single statements outside these (see `group`).
pub async fn begin_write(pool: &AnyPool) -> sqlx::Result<sqlx::Transaction<'static, Any>> {
    match Engine::of(pool) {
        Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Engine::Postgres => {
            let mut tx = pool.begin().await?;
            // The lock function returns `void`, which the Any driver cannot read.
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS locked")
                .bind(WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// Runs `query`, a batch of statements that begins with `BEGIN IMMEDIATE` and ends with
/// `COMMIT`, on the SQLite writer connection in one round trip, and answers the rows its
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
    writer: &AnyPool,
    query: sqlx::query::QueryAs<'static, Any, O, AnyArguments<'static>>,
) -> sqlx::Result<Vec<O>>
where
    O: Send + Unpin + 'static + for<'r> sqlx::FromRow<'r, AnyRow>,
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

/// Whether `error` means the database could not take the work now, so that nothing was
/// written and trying again later can succeed (answered 503 `busy`): on SQLite, another
/// connection held the lock for the whole busy timeout (SQLITE_BUSY or SQLITE_LOCKED,
/// with any extended code); on PostgreSQL, the server is unreachable, shutting down,
/// starting, out of connections, or broke a transaction off (a serialization failure or
/// a deadlock); on either, no pooled connection came free in time.
pub fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse::<i32>()
                    .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
            } else {
                code.starts_with("08")
                    || code.starts_with("57P")
                    || matches!(&*code, "53300" | "40001" | "40P01")
            }
        }
        _ => false,
    }
}

/// Writes a consistent copy of the database to the new file `to` while it stays in use
/// (`VACUUM INTO`: one read transaction, so the copy is the database as of one moment,
/// compacted). The copy is made under a temporary name beside `to`, private like the
/// database, and put in place only when whole: a failed backup leaves no file at `to`.
/// An existing `to` is refused, never overwritten.
pub async fn backup(pool: &AnyPool, to: &Path) -> Result<u64> {
    if Engine::of(pool) == Engine::Postgres {
        anyhow::bail!(
            "latchkey backup copies a SQLite database; back up PostgreSQL with pg_dump \
             (see docs/operating.md)"
        );
    }
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

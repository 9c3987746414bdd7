//! The session store: tower-sessions' SQLite store, reading through the read pool and
//! writing through the single writer connection (see `db::connect_writer`).

use app::server::store::session_records::PreparedRecords;
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::SqliteStore;

#[derive(Clone, Debug)]
pub struct SplitStore {
    read: SqliteStore,
    write: SqliteStore,
    writer_pool: sqlx::SqlitePool,
    /// Records a redeem already wrote in its own transaction.
    prepared: PreparedRecords,
}

impl SplitStore {
    pub fn new(read: sqlx::SqlitePool, write: sqlx::SqlitePool, prepared: PreparedRecords) -> Self {
        Self {
            read: SqliteStore::new(read),
            write: SqliteStore::new(write.clone()),
            writer_pool: write,
            prepared,
        }
    }

    /// The store that writes: for migrating and purging.
    pub fn writer(&self) -> &SqliteStore {
        &self.write
    }
}

#[async_trait]
impl SessionStore for SplitStore {
    /// One statement instead of the SQLite store's transaction around it: redeeming
    /// writes a new session record every time, through the one writer connection.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self.prepared.claim(record) {
            // The redeem stored this very record (with the id `claim` gave it).
            Some(true) => return Ok(()),
            // It stored one under this id, and the session has gained keys since.
            Some(false) => return self.write.save(record).await,
            None => {}
        }
        loop {
            let data = rmp_serde::to_vec(&*record)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let inserted = sqlx::query(
                "INSERT OR ABORT INTO tower_sessions (id, data, expiry_date) VALUES (?1, ?2, ?3)",
            )
            .bind(record.id.to_string())
            .bind(data)
            .bind(record.expiry_date)
            .execute(&self.writer_pool)
            .await;
            match inserted {
                Ok(_) => return Ok(()),
                // 128 random bits met an existing id: draw again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    record.id = Id::default();
                }
                Err(e) => return Err(session_store::Error::Backend(e.to_string())),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.read.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.write.delete(id).await
    }
}

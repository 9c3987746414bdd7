//! The session store: tower-sessions' SQLite store, reading through the read pool and
//! writing through the single writer connection (see `db::connect_writer`).

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::SqliteStore;

#[derive(Clone, Debug)]
pub struct SplitStore {
    read: SqliteStore,
    write: SqliteStore,
}

impl SplitStore {
    pub fn new(read: sqlx::SqlitePool, write: sqlx::SqlitePool) -> Self {
        Self {
            read: SqliteStore::new(read),
            write: SqliteStore::new(write),
        }
    }

    /// The store that writes: for migrating and purging.
    pub fn writer(&self) -> &SqliteStore {
        &self.write
    }
}

#[async_trait]
impl SessionStore for SplitStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.write.create(record).await
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

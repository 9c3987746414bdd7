//! The session store: tower-sessions' records in the `tower_sessions` table, on either
//! engine (the SQL is in `app::server::store::session_records`), reading through the
//! read pool and writing through the writer pool (see `db::connect_writer`).

use app::server::now;
use app::server::store::session_records::{self as records, PreparedRecords};
use async_trait::async_trait;
use sqlx::AnyPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

#[derive(Clone, Debug)]
pub struct SplitStore {
    read: AnyPool,
    write: AnyPool,
    /// Records a redeem already wrote in its own transaction.
    prepared: PreparedRecords,
}

impl SplitStore {
    pub fn new(read: AnyPool, write: AnyPool, prepared: PreparedRecords) -> Self {
        Self {
            read,
            write,
            prepared,
        }
    }
}

fn backend(error: sqlx::Error) -> session_store::Error {
    if app::server::db::is_busy(&error) {
        tracing::warn!(%error, "the session store found the database busy");
        return session_store::Error::Backend(records::STORE_BUSY.to_owned());
    }
    session_store::Error::Backend(error.to_string())
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for SplitStore {
    /// Redeeming writes a new session record every time, through the writer pool, unless
    /// the redeem stored it already.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self.prepared.claim(record) {
            // The redeem stored this very record (with the id `claim` gave it).
            Some(true) => return Ok(()),
            // It stored one under this id, and the session has gained keys since.
            Some(false) => return self.save(record).await,
            None => {}
        }
        loop {
            let inserted = records::insert(
                &self.write,
                &record.id.to_string(),
                encode(record)?,
                record.expiry_date.unix_timestamp(),
            )
            .await;
            match inserted {
                Ok(()) => return Ok(()),
                // 128 random bits met an existing id: draw again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    record.id = Id::default();
                }
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        records::save(
            &self.write,
            &record.id.to_string(),
            encode(record)?,
            record.expiry_date.unix_timestamp(),
        )
        .await
        .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match records::load(&self.read, &id.to_string(), now())
            .await
            .map_err(backend)?
        {
            Some(data) => rmp_serde::from_slice(&data)
                .map(Some)
                .map_err(|e| session_store::Error::Decode(e.to_string())),
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        records::delete(&self.write, &id.to_string())
            .await
            .map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for SplitStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        records::delete_expired(&self.write, now())
            .await
            .map(drop)
            .map_err(backend)
    }
}

//! The `tower_sessions` table: the session layer's records, read and written for its
//! store (`server/src/session_store.rs`), and the records a redeem writes itself, in its
//! own transaction, for that store to claim when the response leaves. A record holds
//! only the id of an `auth_sessions` row, under [`AUTH_KEY`]; `expiry_date` is unix
//! seconds.

use super::super::OrInternal;
use crate::error::AppError;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

/// What the session layer's store says when the database could not take the work now
/// (see `db::is_busy`): the store's errors are text, and this text is answered 503.
pub const STORE_BUSY: &str = "the database is busy";

/// The key under which the session record keeps the `auth_sessions` id.
pub const AUTH_KEY: &str = "auth";

/// Session-store records that a redeem wrote inside its own transaction, waiting for the
/// session layer to claim them when the response leaves (the store's `create`, in the
/// server crate). Writing the record with the link and the session row makes a redeem one
/// transaction and one round trip to the writer instead of three.
///
/// An entry is keyed by the `auth_sessions` id the record carries; it is taken out by the
/// first claim, and entries no request claimed (the request failed after its redeem) are
/// dropped after [`PreparedRecords::UNCLAIMED_TTL`]. Their records name a session id no
/// browser was given, and expire in the store like any other.
#[derive(Clone, Default)]
pub struct PreparedRecords(Arc<Mutex<HashMap<String, (Id, Instant)>>>);

/// The record a redeem writes: its session id (the cookie's value) and the bytes the store
/// keeps.
pub struct PreparedRecord {
    pub id: Id,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for PreparedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreparedRecord { .. }")
    }
}

impl std::fmt::Debug for PreparedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.0.lock().map_or(0, |m| m.len());
        write!(f, "PreparedRecords {{ waiting: {waiting} }}")
    }
}

impl PreparedRecords {
    pub const UNCLAIMED_TTL: Duration = Duration::from_secs(300);

    /// The record tower-sessions will be asked to create for a session holding `auth_id`,
    /// encoded as its SQLite store encodes records. The store's `expiry_date` column, the
    /// one that counts, is the session's end, written beside it by the redeem; the copy
    /// inside the encoded bytes is not read back.
    pub fn prepare(auth_id: &str) -> Result<PreparedRecord, AppError> {
        let id = Id::default();
        let record = Record {
            id,
            data: HashMap::from([(AUTH_KEY.to_owned(), serde_json::Value::from(auth_id))]),
            expiry_date: OffsetDateTime::now_utc(),
        };
        let data = rmp_serde::to_vec(&record).or_internal("encoding a session record")?;
        Ok(PreparedRecord { id, data })
    }

    /// Remembers that the record with `id` is stored for the session holding `auth_id`.
    pub fn stored(&self, auth_id: String, id: Id) {
        let mut waiting = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        waiting.retain(|_, (_, at)| now.duration_since(*at) < Self::UNCLAIMED_TTL);
        waiting.insert(auth_id, (id, now));
    }

    /// The session layer is about to create `record`. When a redeem already stored it,
    /// gives `record` that stored id and answers whether the stored bytes are still
    /// exactly what `record` holds (only the auth id); `None` when nothing was prepared.
    pub fn claim(&self, record: &mut Record) -> Option<bool> {
        let auth_id = record.data.get(AUTH_KEY)?.as_str()?;
        let (id, _) = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(auth_id)?;
        record.id = id;
        Some(record.data.len() == 1)
    }
}

/// The encoded record `id`, unless it expired before `now`.
pub async fn load(pool: &AnyPool, id: &str, now: i64) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT data FROM tower_sessions WHERE id = $1 AND expiry_date > $2")
        .bind(id)
        .bind(now)
        .fetch_optional(pool)
        .await
}

/// Stores a new record; an id already taken is a unique violation.
pub async fn insert(pool: &AnyPool, id: &str, data: Vec<u8>, expiry: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO tower_sessions (id, data, expiry_date) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(data)
        .bind(expiry)
        .execute(pool)
        .await
        .map(drop)
}

/// Stores record `id`, replacing what it held.
pub async fn save(pool: &AnyPool, id: &str, data: Vec<u8>, expiry: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tower_sessions (id, data, expiry_date) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date",
    )
    .bind(id)
    .bind(data)
    .bind(expiry)
    .execute(pool)
    .await
    .map(drop)
}

pub async fn delete(pool: &AnyPool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM tower_sessions WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
}

/// Forgets the records that expired before `now`; answers how many.
pub async fn delete_expired(pool: &AnyPool, now: i64) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM tower_sessions WHERE expiry_date <= $1")
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_for(auth_id: &str) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([(AUTH_KEY.to_owned(), serde_json::Value::from(auth_id))]),
            expiry_date: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn a_prepared_record_is_claimed_once_under_its_stored_id() {
        let records = PreparedRecords::default();
        let prepared = PreparedRecords::prepare("a1").unwrap();
        let stored: Record = rmp_serde::from_slice(&prepared.data).unwrap();
        assert_eq!(stored.id, prepared.id);
        assert_eq!(
            stored.data,
            record_for("a1").data,
            "the bytes the store decodes"
        );
        records.stored("a1".into(), prepared.id);

        let mut other = record_for("b2");
        assert_eq!(records.claim(&mut other), None, "nothing prepared for b2");

        let mut record = record_for("a1");
        assert_eq!(records.claim(&mut record), Some(true));
        assert_eq!(record.id, prepared.id, "the cookie names the stored record");
        assert_eq!(records.claim(&mut record_for("a1")), None, "claimed once");
        assert!(!format!("{records:?} {prepared:?}").contains(&prepared.id.to_string()));
    }

    #[test]
    fn a_record_that_gained_keys_is_claimed_as_changed() {
        let records = PreparedRecords::default();
        let prepared = PreparedRecords::prepare("a1").unwrap();
        records.stored("a1".into(), prepared.id);
        let mut record = record_for("a1");
        record.data.insert("theme".into(), "dark".into());
        assert_eq!(records.claim(&mut record), Some(false));
        assert_eq!(record.id, prepared.id);
    }
}

//! What the gate records about use, written behind its decisions: a session's last use
//! (`last_seen_at`, which its idle limit counts from) and the first time it reached each
//! application ("Reached NAME" on the invitation's trail). Decisions only queue them; a
//! task writes what is queued every [`EVERY`] in one transaction.
//!
//! A crash loses at most what was queued since the last write: last-use times a little
//! older than they should be (the session may end idle up to [`EVERY`] early) and a
//! "Reached" line. Nothing that refuses a request is ever written behind.

use super::super::db;
use super::super::store::applications;
use super::super::store::events::Event;
use super::super::store::gate as store;
use crate::model::events::EventKind;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How often queued uses are written.
pub const EVERY: Duration = Duration::from_secs(1);

/// An invitee session's first request to an application.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reach {
    pub session_id: String,
    pub link_id: i64,
    pub application_id: i64,
    pub application_name: String,
    pub at: i64,
}

#[derive(Default)]
pub struct Behind {
    queued: Mutex<Queued>,
}

#[derive(Default)]
struct Queued {
    /// Session id → its latest use.
    uses: HashMap<String, i64>,
    reaches: Vec<Reach>,
}

impl Behind {
    fn queued(&self) -> MutexGuard<'_, Queued> {
        self.queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues session `id`'s use at `at`.
    pub fn used(&self, id: &str, at: i64) {
        let mut queued = self.queued();
        let latest = queued.uses.entry(id.to_owned()).or_insert(at);
        *latest = (*latest).max(at);
    }

    /// Queues a first reach.
    pub fn reached(&self, reach: Reach) {
        self.queued().reaches.push(reach);
    }

    /// The latest queued use of session `id` (what the database will say once written).
    pub fn use_of(&self, id: &str) -> Option<i64> {
        self.queued().uses.get(id).copied()
    }

    /// The applications session `id` has queued reaches of.
    pub fn reaches_of(&self, id: &str) -> Vec<i64> {
        self.queued()
            .reaches
            .iter()
            .filter(|reach| reach.session_id == id)
            .map(|reach| reach.application_id)
            .collect()
    }

    /// Writes what is queued, in one transaction; on failure puts it back.
    pub async fn write(&self, writer: &AnyPool) -> sqlx::Result<usize> {
        let Queued { uses, reaches } = std::mem::take(&mut *self.queued());
        if uses.is_empty() && reaches.is_empty() {
            return Ok(0);
        }
        let written = uses.len() + reaches.len();
        match write(writer, &uses, &reaches).await {
            Ok(()) => Ok(written),
            Err(error) => {
                let mut queued = self.queued();
                for (id, at) in uses {
                    let latest = queued.uses.entry(id).or_insert(at);
                    *latest = (*latest).max(at);
                }
                queued.reaches.extend(reaches);
                Err(error)
            }
        }
    }
}

async fn write(
    writer: &AnyPool,
    uses: &HashMap<String, i64>,
    reaches: &[Reach],
) -> sqlx::Result<()> {
    let mut tx = db::begin_write(writer).await?;
    for (id, at) in uses {
        store::touch(&mut tx, id, *at).await?;
    }
    for reach in reaches {
        if applications::reached(&mut *tx, &reach.session_id, reach.application_id).await? {
            Event::new(EventKind::Reached)
                .detail(&reach.application_name)
                .record(&mut *tx, reach.link_id, reach.at)
                .await?;
        }
    }
    tx.commit().await
}

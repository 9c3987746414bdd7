//! How a serving process learns of the changes other processes commit, so that what it
//! remembers is never used after the change.
//!
//! - SQLite: the change log (`gate_changes`, written by triggers in the transaction of each
//!   change, migration 0009). Before each decision the gate applies the rows after the last
//!   one it applied, read by a query that started after the decision arrived. Decisions
//!   arriving together share one such read, so under load it costs a fraction of a query
//!   each, and a change committed by any process is seen at the very next request.
//! - PostgreSQL: notices on channel `latchkey_gate` (sent by triggers when the changing
//!   transaction commits, migration 0005), received by one listening connection. While
//!   that connection is down the gate decides from the database alone, remembering
//!   nothing, until it listens again and has forgotten everything it knew before.

use super::memory::Memory;
use super::subject::Subject;
use crate::server::store::gate as store;
use sqlx::AnyPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The change log's reader (SQLite).
pub struct Log {
    /// Reads started so far; only the holder of `applied` starts one.
    started: AtomicU64,
    /// The last change applied, and the number of the last read that finished.
    applied: tokio::sync::Mutex<(i64, u64)>,
}

impl Log {
    /// A reader that starts after change `after`.
    pub fn new(after: i64) -> Self {
        Self {
            started: AtomicU64::new(0),
            applied: tokio::sync::Mutex::new((after, 0)),
        }
    }

    /// Applies every change committed before this call to `memory`. Waits for a read
    /// that starts after the call, or makes one.
    pub async fn catch_up(&self, db: &AnyPool, memory: &Memory) -> sqlx::Result<()> {
        let arrived = self.started.load(Ordering::Acquire);
        let mut applied = self.applied.lock().await;
        if applied.1 > arrived {
            // A read that started after this call arrived has finished meanwhile.
            return Ok(());
        }
        let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let changes = store::changes_after(db, applied.0).await?;
        if let Some((first, _)) = changes.first() {
            if *first != applied.0 + 1 {
                // Rows this reader never saw were pruned: whatever they said is unknown.
                memory.forget_all();
            }
        }
        for (id, subject) in changes {
            match Subject::parse(&subject) {
                Some(subject) => memory.forget(subject),
                None => memory.forget_all(),
            }
            applied.0 = id;
        }
        applied.1 = number;
        Ok(())
    }
}

/// The PostgreSQL listener's state, shared with its task.
#[derive(Default)]
pub struct Notices {
    listening: AtomicBool,
}

impl Notices {
    /// Whether change notices arrive: only then may remembered sessions be used.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Listens on `url`, reconnecting after a failure, until the task is aborted (the
    /// gate aborts it when it is dropped).
    pub fn start(
        self: &Arc<Self>,
        url: String,
        memory: Arc<Memory>,
    ) -> tokio::task::JoinHandle<()> {
        let notices = Arc::clone(self);
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(50);
            loop {
                let error = notices.listen(&url, &memory).await;
                notices.listening.store(false, Ordering::Release);
                tracing::warn!(%error, "the gate stopped receiving change notices; deciding from the database until it listens again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        })
    }

    /// One connection's life: listen, forget everything known before, then apply each
    /// notice, until the connection fails.
    async fn listen(&self, url: &str, memory: &Memory) -> sqlx::Error {
        let mut listener = match sqlx::postgres::PgListener::connect(url).await {
            Ok(listener) => listener,
            Err(error) => return error,
        };
        if let Err(error) = listener.listen("latchkey_gate").await {
            return error;
        }
        memory.forget_all();
        self.listening.store(true, Ordering::Release);
        tracing::info!("the gate receives change notices");
        loop {
            // `None`: the connection was lost (the listener would reconnect on the next
            // call, and notices sent meanwhile would be lost without a word).
            match listener.try_recv().await {
                Ok(Some(notice)) => match Subject::parse(notice.payload()) {
                    Some(subject) => memory.forget(subject),
                    None => memory.forget_all(),
                },
                Ok(None) => {
                    return sqlx::Error::Protocol("the listening connection was closed".into())
                }
                Err(error) => return error,
            }
        }
    }
}

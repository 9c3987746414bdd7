//! Group commit for invitation redeems: redeems that arrive while the writer connection
//! is busy wait in a queue, and the next transaction takes all of them at once (up to
//! [`MOST_PER_TRANSACTION`]). Each redeem keeps its own conditional update, so of any
//! number of attempts on one token exactly one wins, whether they share a transaction or
//! not; every waiting request is answered only after the transaction holding its redeem
//! has committed, so an acknowledged redeem is as durable as before.
//!
//! On a small machine the cost of a redeem is mostly the hand-offs between threads and
//! the commit (the write-ahead log's frames and, at checkpoints, its fsync); sharing one
//! transaction and one round trip among many redeems divides both.

use super::{db, OrInternal};
use crate::error::AppError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqlitePool};
use std::collections::VecDeque;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

/// The most redeems one transaction takes. Batches come in powers of two up to this, so
/// the writer connection keeps a handful of prepared batches, not one per size.
pub const MOST_PER_TRANSACTION: usize = 32;
/// Parameters each redeem's statements take (see [`bind`]).
#[cfg(test)]
const PARAMETERS: usize = 16;

/// One invitation redeem's values.
pub struct Redeem {
    pub token_hash: Vec<u8>,
    pub at: i64,
    pub auth_id: String,
    pub default_session_minutes: i64,
    pub longest_session_secs: i64,
    pub user_agent: Option<String>,
    pub ip: String,
    pub record_id: String,
    pub record_data: Vec<u8>,
    pub record_expiry: time::OffsetDateTime,
}

impl std::fmt::Debug for Redeem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redeem { .. }")
    }
}

/// The link a redeem marked used and where its invitee goes; `None` when the token was
/// not a pending invitation.
pub type Won = Option<(i64, Option<String>)>;

struct Job {
    redeem: Redeem,
    answer: oneshot::Sender<Result<Won, AppError>>,
}

/// The queue's sending end; cloning it is cheap.
#[derive(Clone)]
pub struct Redeemer(mpsc::UnboundedSender<Job>);

impl std::fmt::Debug for Redeemer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redeemer")
    }
}

impl Redeemer {
    /// Starts the task that commits queued redeems through `writer`.
    pub fn start(writer: SqlitePool) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(writer, receiver));
        Self(sender)
    }

    /// Queues `redeem` and waits until the transaction that holds it has committed.
    pub async fn redeem(&self, redeem: Redeem) -> Result<Won, AppError> {
        let (answer, answered) = oneshot::channel();
        self.0
            .send(Job { redeem, answer })
            .map_err(|_| AppError::Internal)?;
        answered.await.map_err(|_| AppError::Internal)?
    }
}

async fn run(writer: SqlitePool, mut receiver: mpsc::UnboundedReceiver<Job>) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match receiver.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while waiting.len() < MOST_PER_TRANSACTION {
            match receiver.try_recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => break,
            }
        }
        // The largest power of two that fits; the rest go in the next transaction.
        let take = 1 << waiting.len().min(MOST_PER_TRANSACTION).ilog2();
        let jobs: Vec<Job> = waiting.drain(..take).collect();
        commit(&writer, jobs).await;
    }
}

async fn commit(writer: &SqlitePool, jobs: Vec<Job>) {
    let mut query = sqlx::query_as::<_, (i64, i64, Option<String>)>(batch_sql(jobs.len()));
    let mut answers = Vec::with_capacity(jobs.len());
    for Job { redeem, answer } in jobs {
        query = bind(query, redeem);
        answers.push(answer);
    }
    match db::batch(writer, query).await {
        Ok(rows) => {
            let mut won: Vec<Won> = vec![None; answers.len()];
            for (job, link_id, destination) in rows {
                if let Some(slot) = won.get_mut(job as usize) {
                    *slot = Some((link_id, destination));
                }
            }
            for (answer, won) in answers.into_iter().zip(won) {
                // A request that went away misses its answer; its redeem stands.
                let _ = answer.send(Ok(won));
            }
        }
        Err(error) => {
            // Logged once; every request of the batch gets the same answer.
            let failed = match Err::<(), _>(error).or_internal("redeeming invitations") {
                Err(failed) => failed,
                Ok(()) => AppError::Internal,
            };
            for answer in answers {
                let _ = answer.send(Err(failed.clone()));
            }
        }
    }
}

/// Binds one redeem's values in the order its statements in [`batch_sql`] name them.
///
/// The statements use plain `?` parameters, bound in order: sqlx numbers `?NNN`
/// parameters across a multi-statement query so that, once the batch is long enough, the
/// later statements' parameters are silently left unbound (NULL).
fn bind(
    query: sqlx::query::QueryAs<
        'static,
        Sqlite,
        (i64, i64, Option<String>),
        SqliteArguments<'static>,
    >,
    redeem: Redeem,
) -> sqlx::query::QueryAs<'static, Sqlite, (i64, i64, Option<String>), SqliteArguments<'static>> {
    let Redeem {
        token_hash,
        at,
        auth_id,
        default_session_minutes,
        longest_session_secs,
        user_agent,
        ip,
        record_id,
        record_data,
        record_expiry,
    } = redeem;
    query
        // UPDATE
        .bind(at)
        .bind(token_hash.clone())
        .bind(at)
        // INSERT INTO auth_sessions
        .bind(auth_id)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(default_session_minutes)
        .bind(longest_session_secs)
        .bind(user_agent)
        .bind(ip)
        .bind(token_hash)
        .bind(at)
        // INSERT INTO tower_sessions
        .bind(record_id)
        .bind(record_data)
        .bind(record_expiry)
}

/// The transaction for `count` redeems (a power of two up to [`MOST_PER_TRANSACTION`]).
/// For each, numbered `j` from 0: mark the link used if it is a pending invitation
/// (answering `j`, its id and destination), open the invitee's session if that changed a
/// row (its insert puts `redeemed` on the trail, a trigger), and store the session
/// layer's record if that did. [`bind`] binds the parameters.
fn batch_sql(count: usize) -> &'static str {
    static BATCHES: OnceLock<Vec<String>> = OnceLock::new();
    let batches = BATCHES.get_or_init(|| {
        (0..=MOST_PER_TRANSACTION.ilog2())
            .map(|power| {
                let mut sql = String::from("BEGIN IMMEDIATE;");
                for job in 0..1usize << power {
                    sql += &format!(
                        "
                        UPDATE magic_links SET redeemed_at = ?
                         WHERE token_hash = ? AND purpose = 'invite'
                           AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?
                         RETURNING {job}, id, destination;
                        INSERT INTO auth_sessions
                               (id, coworker_id, link_id, created_at, last_seen_at, expires_at,
                                user_agent, ip)
                        SELECT ?, NULL, id, ?, ?, ? + MIN(COALESCE(session_minutes, ?) * 60, ?),
                               ?, ?
                          FROM magic_links
                         WHERE token_hash = ? AND redeemed_at = ? AND changes() = 1;
                        INSERT INTO tower_sessions (id, data, expiry_date)
                        SELECT ?, ?, ? WHERE changes() = 1;"
                    );
                }
                sql + "\nCOMMIT;"
            })
            .collect()
    });
    &batches[count.ilog2() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_number_their_parameters_per_redeem() {
        assert_eq!(batch_sql(1).matches("UPDATE magic_links").count(), 1);
        let four = batch_sql(4);
        assert_eq!(four.matches("UPDATE magic_links").count(), 4);
        assert!(four.contains("RETURNING 3, id, destination"));
        assert_eq!(four.matches('?').count(), 4 * PARAMETERS);
        assert!(four.starts_with("BEGIN IMMEDIATE;") && four.ends_with("COMMIT;"));
    }
}

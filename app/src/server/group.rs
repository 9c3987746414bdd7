//! Group commit: writes that arrive while the writer connection is busy wait in a queue,
//! and the next transaction takes all of them at once (up to [`MOST_PER_TRANSACTION`]),
//! sent as one batch of statements ([`db::batch`]). Every waiting request is answered
//! only after the transaction holding its write has committed, so an acknowledged write
//! is exactly as durable as one committed alone.
//!
//! On a small machine a write costs mostly the hand-offs between threads and the commit
//! (the write-ahead log's frames and, at checkpoints, its fsync); sharing one
//! transaction and one round trip among many writes divides both. Each kind of write is
//! a [`Job`]: its statements, and how it binds its values.

use super::{db, OrInternal};
use crate::error::AppError;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyPool, FromRow};
use std::collections::VecDeque;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

/// The most jobs of one kind that may wait for the writer. Past it a request is answered
/// 503 `busy` at once, storing nothing, instead of queueing in memory without bound
/// (at the writer's pace, a full queue is well under a second of work).
pub const MOST_WAITING: usize = 4096;

/// The most jobs one transaction takes. Batches come in powers of two up to this, so
/// the writer connection keeps a handful of prepared batches per kind of job.
pub const MOST_PER_TRANSACTION: usize = 32;

/// A query being built for a batch of jobs.
pub type Query<R> = sqlx::query::QueryAs<'static, Any, R, AnyArguments<'static>>;

/// One kind of write.
pub trait Job: Send + 'static {
    /// What its statements return; each row starts with the job's number in the batch.
    type Row: JobRow + Send + Unpin + 'static + for<'r> FromRow<'r, AnyRow>;
    /// What is being done, for the log when a batch fails.
    const DOING: &'static str;
    /// The queue's name in the metrics.
    const QUEUE: &'static str;

    /// Its statements as job `number` of a batch, with plain `?` parameters: sqlx binds a
    /// numbered `?NNN` by its number but counts the numbers a statement skips towards
    /// the parameters after it, and in a long batch stops binding (leaving NULLs).
    fn statements(number: usize) -> String;

    /// Binds this job's values, in the order its statements name them.
    fn bind(self, query: Query<Self::Row>) -> Query<Self::Row>;

    /// The batch of `count` jobs (a power of two), made once per kind: see [`batch_sql`].
    fn batch_sql(count: usize) -> &'static str;

    /// The job as one statement of its own, its rows numbered 0, its parameters numbered
    /// (see [`db::numbered`]) in the order [`Job::bind`] binds them: how PostgreSQL,
    /// which takes writes side by side, commits each job (a statement is its own
    /// transaction there). Made once per kind.
    fn alone_sql() -> &'static str;
}

/// A row that says which job of the batch it belongs to.
pub trait JobRow {
    fn job(&self) -> usize;
}

impl JobRow for (i64,) {
    fn job(&self) -> usize {
        self.0 as usize
    }
}

impl<T> JobRow for (i64, T) {
    fn job(&self) -> usize {
        self.0 as usize
    }
}

impl<T, U> JobRow for (i64, T, U) {
    fn job(&self) -> usize {
        self.0 as usize
    }
}

impl<T, U, V> JobRow for (i64, T, U, V) {
    fn job(&self) -> usize {
        self.0 as usize
    }
}

/// `count` jobs' statements between `BEGIN IMMEDIATE` and `COMMIT`, from `cache`
/// (filled on first use with every power of two up to [`MOST_PER_TRANSACTION`]).
pub fn batch_sql(
    cache: &'static OnceLock<Vec<String>>,
    statements: fn(usize) -> String,
    count: usize,
) -> &'static str {
    let batches = cache.get_or_init(|| {
        (0..=MOST_PER_TRANSACTION.ilog2())
            .map(|power| {
                let mut sql = String::from("BEGIN IMMEDIATE;");
                for number in 0..1usize << power {
                    sql += &statements(number);
                }
                sql + "\nCOMMIT;"
            })
            .collect()
    });
    &batches[count.ilog2() as usize]
}

type Answer<J> = oneshot::Sender<Result<Vec<<J as Job>::Row>, AppError>>;

/// The queue for one kind of job (on PostgreSQL, the pool each job is committed through
/// on its own); cloning it is cheap.
pub enum GroupCommit<J: Job> {
    Queued(mpsc::Sender<(J, Answer<J>)>),
    Alone(AnyPool),
}

impl<J: Job> Clone for GroupCommit<J> {
    fn clone(&self) -> Self {
        match self {
            Self::Queued(sender) => Self::Queued(sender.clone()),
            Self::Alone(pool) => Self::Alone(pool.clone()),
        }
    }
}

impl<J: Job> std::fmt::Debug for GroupCommit<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupCommit({})", J::QUEUE)
    }
}

impl<J: Job> GroupCommit<J> {
    /// Starts the task that commits queued jobs through `writer`.
    pub fn start(writer: AnyPool) -> Self {
        Self::with_room(writer, MOST_WAITING)
    }

    /// [`GroupCommit::start`] with room for `waiting` queued jobs.
    pub fn with_room(writer: AnyPool, waiting: usize) -> Self {
        if db::Engine::of(&writer) == db::Engine::Postgres {
            return Self::Alone(writer);
        }
        let (sender, receiver) = mpsc::channel(waiting);
        tokio::spawn(run::<J>(writer, receiver));
        Self::Queued(sender)
    }

    /// Queues `job` and waits until the transaction that holds it has committed; answers
    /// the rows its statements returned. The job stands even if the caller goes away.
    /// With the queue full, answers [`AppError::Busy`] at once and stores nothing.
    pub async fn commit(&self, job: J) -> Result<Vec<J::Row>, AppError> {
        let queue = match self {
            Self::Queued(queue) => queue,
            Self::Alone(pool) => return commit_alone(pool, job).await,
        };
        let (answer, answered) = oneshot::channel();
        queue.try_send((job, answer)).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => {
                tracing::warn!(doing = J::DOING, "the write queue is full; answering busy");
                AppError::Busy
            }
            mpsc::error::TrySendError::Closed(_) => AppError::Internal,
        })?;
        answered.await.map_err(|_| AppError::Internal)?
    }
}

async fn run<J: Job>(writer: AnyPool, mut receiver: mpsc::Receiver<(J, Answer<J>)>) {
    let mut waiting = VecDeque::new();
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
        let jobs: Vec<(J, Answer<J>)> = waiting.drain(..take).collect();
        commit::<J>(&writer, jobs).await;
    }
}

/// Commits `job` as one statement, in a task of its own so that a caller going away
/// cannot stop it half-way.
async fn commit_alone<J: Job>(pool: &AnyPool, job: J) -> Result<Vec<J::Row>, AppError> {
    let pool = pool.clone();
    let rows = tokio::spawn(async move {
        job.bind(sqlx::query_as::<_, J::Row>(J::alone_sql()))
            .fetch_all(&pool)
            .await
    })
    .await
    .map_err(|_| AppError::Internal)?
    .or_internal(J::DOING)?;
    super::metrics::batch_committed(J::QUEUE, 1);
    Ok(rows)
}

async fn commit<J: Job>(writer: &AnyPool, jobs: Vec<(J, Answer<J>)>) {
    let mut query = sqlx::query_as::<_, J::Row>(J::batch_sql(jobs.len()));
    let mut answers = Vec::with_capacity(jobs.len());
    for (job, answer) in jobs {
        query = job.bind(query);
        answers.push(answer);
    }
    // A fault is logged once; every request of the batch gets the same answer.
    match db::batch(writer, query).await.or_internal(J::DOING) {
        Ok(rows) => {
            super::metrics::batch_committed(J::QUEUE, answers.len());
            let mut each: Vec<Vec<J::Row>> = answers.iter().map(|_| Vec::new()).collect();
            for row in rows {
                if let Some(mine) = each.get_mut(row.job()) {
                    mine.push(row);
                }
            }
            for (answer, rows) in answers.into_iter().zip(each) {
                // A request that went away misses its answer; its write stands.
                let _ = answer.send(Ok(rows));
            }
        }
        Err(failed) => {
            for answer in answers {
                let _ = answer.send(Err(failed.clone()));
            }
        }
    }
}

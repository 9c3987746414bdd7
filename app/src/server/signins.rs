//! Coworker sign-in requests, worked off the request path. The `/login` form is answered
//! at once, the same for every address; the lookup and the mail happen here, later, so the
//! answer says nothing (not even by its timing) about who is a coworker.
//!
//! The work is bounded: requests wait in a queue of [`QUEUE_ROOM`] and at most
//! [`WORKERS`] are worked at a time, so a flood of sign-in requests costs a fixed amount
//! of memory and never more than a few of the read connections, and never the writer,
//! which only a real coworker's sign-in link needs. Past the queue's room a request is
//! dropped and the drop logged; its answer was already the usual one.

use super::email::EmailAddress;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use tracing::warn;

/// How many sign-in requests may wait.
pub const QUEUE_ROOM: usize = 256;
/// How many are worked at once.
pub const WORKERS: usize = 4;

/// One `/login` request: the address, and where the sign-in link returns to after
/// Continue (an application's URL the gate sent the browser from, already checked).
#[derive(Debug)]
pub struct SigninRequest {
    pub email: EmailAddress,
    pub return_to: Option<String>,
}

/// Where `request_signin` leaves its work; cloning it is cheap.
#[derive(Clone, Debug)]
pub struct SigninQueue {
    queue: mpsc::Sender<SigninRequest>,
    /// Requests worked to the end or dropped: what a test waits for before it checks
    /// that no mail went out.
    settled: Arc<AtomicU64>,
}

impl SigninQueue {
    /// The queue, and its other end for [`work`].
    pub fn new() -> (Self, mpsc::Receiver<SigninRequest>) {
        let (sender, receiver) = mpsc::channel(QUEUE_ROOM);
        let queue = Self {
            queue: sender,
            settled: Arc::default(),
        };
        (queue, receiver)
    }

    /// Queues a sign-in request; when the queue is full, drops it and logs the refusal.
    pub fn request(&self, request: SigninRequest) {
        if let Err(error) = self.queue.try_send(request) {
            let (mpsc::error::TrySendError::Full(request)
            | mpsc::error::TrySendError::Closed(request)) = error;
            warn!(to = %request.email.masked(), "sign-in request dropped: the sign-in queue is full");
            self.settled.fetch_add(1, Ordering::Release);
        }
    }

    /// How many requests have been worked to the end (mail sent or not) or dropped.
    pub fn settled(&self) -> u64 {
        self.settled.load(Ordering::Acquire)
    }
}

/// Works requests queued on `signins` with `send` (issuing and mailing the link),
/// [`WORKERS`] at a time, until the queue closes.
pub async fn work<F, Fut>(signins: SigninQueue, mut queue: mpsc::Receiver<SigninRequest>, send: F)
where
    F: Fn(SigninRequest) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let workers = Arc::new(Semaphore::new(WORKERS));
    while let Some(email) = queue.recv().await {
        let Ok(worker) = workers.clone().acquire_owned().await else {
            return;
        };
        let (settled, sending) = (signins.settled.clone(), send(email));
        tokio::spawn(async move {
            sending.await;
            settled.fetch_add(1, Ordering::Release);
            drop(worker);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_past_the_queues_room_are_dropped_not_kept() {
        let (queue, mut waiting) = SigninQueue::new();
        for i in 0..QUEUE_ROOM + 50 {
            queue.request(SigninRequest {
                email: EmailAddress::parse("email", &format!("a{i}@example.com")).unwrap(),
                return_to: None,
            });
        }
        let mut kept = 0;
        while waiting.try_recv().is_ok() {
            kept += 1;
        }
        assert_eq!(kept, QUEUE_ROOM);
        assert_eq!(queue.settled(), 50, "the dropped ones are settled at once");
    }
}

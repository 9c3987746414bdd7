//! The gate's memory of sessions: what each live gate cookie stands for, bounded (least
//! recently used evicted), and forgotten by subject when a change is committed.
//!
//! Forgetting is by stamp rather than by search: every change stamps its subject (a
//! session, a link, a coworker) with the next number of a counter, and an entry is good
//! only while it was loaded after every stamp of its subjects. A change therefore costs one
//! map insert however many sessions it touches, and the entries it outdated are read again
//! from the database when next used. A change to the applications outdates everything.

use super::subject::Subject;
use super::view::View;
use crate::server::tokens::TokenHash;
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Stamps kept before the map is folded into the floor (which outdates everything older).
const MOST_STAMPS: usize = 100_000;
/// Shards of the session map, so that deciding threads seldom wait for each other.
const SHARDS: usize = 16;

pub struct Memory {
    shards: Vec<Mutex<LruCache<[u8; 32], Arc<View>>>>,
    counter: AtomicU64,
    stamps: Mutex<Stamps>,
}

#[derive(Default)]
struct Stamps {
    /// Every entry loaded before this is outdated.
    floor: u64,
    by_subject: HashMap<Subject, u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Memory {
    /// A memory of at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        let per_shard =
            NonZeroUsize::new(capacity.div_ceil(SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            counter: AtomicU64::new(1),
            stamps: Mutex::new(Stamps::default()),
        }
    }

    fn shard(&self, key: &TokenHash) -> &Mutex<LruCache<[u8; 32], Arc<View>>> {
        &self.shards[usize::from(key.0[0]) % SHARDS]
    }

    /// The number an entry loaded from now on is stamped with: taken before reading the
    /// database, so a change committed during the read outdates what it read.
    pub fn ticket(&self) -> u64 {
        self.counter.load(Ordering::Acquire)
    }

    /// The session `key` stands for, if remembered and not outdated.
    pub fn get(&self, key: &TokenHash) -> Option<Arc<View>> {
        let view = lock(self.shard(key)).get(&key.0).cloned()?;
        let stamps = lock(&self.stamps);
        let outdated = view.loaded_at <= stamps.floor
            || (!stamps.by_subject.is_empty()
                && view.subjects().any(|subject| {
                    stamps
                        .by_subject
                        .get(&subject)
                        .is_some_and(|&at| view.loaded_at <= at)
                }));
        drop(stamps);
        if outdated {
            lock(self.shard(key)).pop(&key.0);
            return None;
        }
        Some(view)
    }

    /// Remembers `view` for `key`.
    pub fn put(&self, key: &TokenHash, view: Arc<View>) {
        lock(self.shard(key)).put(key.0, view);
    }

    /// Whether something loaded at `loaded_at` is outdated by no change to everything.
    pub fn is_current(&self, loaded_at: u64) -> bool {
        loaded_at > lock(&self.stamps).floor
    }

    /// Outdates every entry about `subject`.
    pub fn forget(&self, subject: Subject) {
        let at = self.counter.fetch_add(1, Ordering::AcqRel);
        let mut stamps = lock(&self.stamps);
        if subject == Subject::Applications || stamps.by_subject.len() >= MOST_STAMPS {
            stamps.floor = at;
            stamps.by_subject.clear();
            if subject == Subject::Applications {
                return;
            }
        }
        stamps.by_subject.insert(subject, at);
    }

    /// Outdates everything (the change notices may have been missed).
    pub fn forget_all(&self) {
        self.forget(Subject::Applications);
    }

    /// How many sessions are remembered.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::gate::view::tests::view;

    #[test]
    fn notices_are_read_as_subjects() {
        assert_eq!(Subject::parse("session:12"), Some(Subject::Session(12)));
        assert_eq!(Subject::parse("link:3"), Some(Subject::Link(3)));
        assert_eq!(Subject::parse("coworker:4"), Some(Subject::Coworker(4)));
        assert_eq!(Subject::parse("applications"), Some(Subject::Applications));
        for odd in ["", "link", "link:x", "table:1", "session:1:2"] {
            assert_eq!(Subject::parse(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn a_change_outdates_the_entries_about_its_subject_only() {
        let memory = Memory::new(100);
        let (a, b) = (TokenHash([1; 32]), TokenHash([2; 32]));
        memory.put(&a, Arc::new(view(memory.ticket(), 1, Some(10), None)));
        memory.put(&b, Arc::new(view(memory.ticket(), 2, Some(20), None)));
        memory.forget(Subject::Link(10));
        assert!(memory.get(&a).is_none(), "its link changed");
        assert!(memory.get(&b).is_some());
        memory.forget(Subject::Session(2));
        assert!(memory.get(&b).is_none(), "its session ended");
    }

    #[test]
    fn an_entry_read_while_a_change_was_committed_is_outdated() {
        let memory = Memory::new(100);
        let key = TokenHash([1; 32]);
        let ticket = memory.ticket();
        memory.forget(Subject::Coworker(5));
        memory.put(&key, Arc::new(view(ticket, 1, None, Some(5))));
        assert!(memory.get(&key).is_none());
    }

    #[test]
    fn a_change_to_the_applications_outdates_everything() {
        let memory = Memory::new(100);
        let key = TokenHash([1; 32]);
        memory.put(&key, Arc::new(view(memory.ticket(), 1, Some(1), None)));
        memory.forget(Subject::Applications);
        assert!(memory.get(&key).is_none());
        memory.put(&key, Arc::new(view(memory.ticket(), 1, Some(1), None)));
        assert!(memory.get(&key).is_some(), "loaded after the change");
    }

    #[test]
    fn the_memory_is_bounded() {
        let memory = Memory::new(32);
        for i in 0..=255u8 {
            memory.put(
                &TokenHash([i; 32]),
                Arc::new(view(memory.ticket(), 1, None, None)),
            );
        }
        assert!(memory.len() <= 32, "{}", memory.len());
    }
}

//! A session as the gate sees it, and the rule that judges a request by it: a pure
//! function of the view, the application asked for and the time, the same whether the view
//! came from the gate's memory or straight from the database.

use super::subject::Subject;
use super::Identity;
use crate::server::store::gate::{self as store, GateSession};
use crate::server::store::sessions::EndReason;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// A session found by its gate cookie.
#[derive(Debug)]
pub struct View {
    /// The memory's counter when it was read (see [`super::memory::Memory::ticket`]).
    pub loaded_at: u64,
    /// `auth_sessions.id` (64 hex digits, kept as the 32 bytes they spell: a million of
    /// these are remembered) and `rowid`.
    id: SessionKey,
    pub number: i64,
    pub link_id: Option<i64>,
    pub coworker_id: Option<i64>,
    /// Who holds it, while its coworker is active or its invitation not revoked and it
    /// had not ended when read.
    pub holder: Option<Identity>,
    /// Whether it had ended in the database when read, and whether by its holder's own
    /// doing (signed out, or signed in again in the same browser).
    pub ended: bool,
    pub signed_out: bool,
    pub expires_at: i64,
    /// Its last recorded use (unix seconds): read, then advanced as uses are recorded.
    pub last_seen_at: AtomicI64,
    /// The applications its invitation opens (a coworker's session opens every one).
    pub opens: Box<[i64]>,
    /// The applications it has reached ("Reached NAME" is on the trail).
    pub reached: Mutex<Vec<i64>>,
}

/// A session id as the gate keeps it: the bytes its hex spells, or the text itself when it
/// is not 64 lower-case hex digits (never, for ids `sessions::new_id` makes).
#[derive(Debug)]
enum SessionKey {
    Bytes([u8; 32]),
    Text(Box<str>),
}

impl SessionKey {
    fn of(id: &str) -> Self {
        let bytes = id.as_bytes();
        let mut key = [0u8; 32];
        let hex = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        if bytes.len() == 64 {
            let decoded = key.iter_mut().zip(bytes.chunks(2)).all(|(out, pair)| {
                match (hex(pair[0]), hex(pair[1])) {
                    (Some(high), Some(low)) => {
                        *out = high << 4 | low;
                        true
                    }
                    _ => false,
                }
            });
            if decoded {
                return Self::Bytes(key);
            }
        }
        Self::Text(id.into())
    }

    fn text(&self) -> String {
        match self {
            Self::Bytes(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            Self::Text(text) => text.to_string(),
        }
    }
}

impl View {
    /// The view of a row read at `loaded_at`.
    pub fn of(row: GateSession, loaded_at: u64) -> Self {
        let holder = match (row.coworker_id, row.link_id) {
            (Some(_), _) if row.c_deactivated_at.is_none() => row.c_email.map(|email| Identity {
                email,
                name: row.c_name,
                groups: if row.c_is_admin.is_some_and(|flag| flag.0) {
                    &["coworker", "admin"]
                } else {
                    &["coworker"]
                },
                link: None,
            }),
            (None, Some(link)) if row.l_revoked_at.is_none() => row.l_email.map(|email| Identity {
                email,
                name: row.l_name,
                groups: &["invitee"],
                link: Some(link),
            }),
            // A removed coworker's session, or one whose invitation was revoked.
            _ => None,
        };
        Self {
            loaded_at,
            id: SessionKey::of(&row.id),
            number: row.number,
            link_id: row.link_id,
            coworker_id: row.coworker_id,
            holder,
            ended: row.ended_at.is_some(),
            signed_out: matches!(
                row.end_reason.as_deref(),
                Some(reason) if reason == EndReason::SignedOut.code() || reason == EndReason::Replaced.code()
            ),
            expires_at: row.expires_at,
            last_seen_at: AtomicI64::new(row.last_seen_at),
            opens: store::ids(row.opens.as_deref()).into(),
            reached: Mutex::new(store::ids(row.reached.as_deref())),
        }
    }

    /// `auth_sessions.id`.
    pub fn id(&self) -> String {
        self.id.text()
    }

    /// The subjects whose changes outdate this view: its session, its invitation or its
    /// coworker.
    pub fn subjects(&self) -> impl Iterator<Item = Subject> {
        [
            Some(Subject::Session(self.number)),
            self.link_id.map(Subject::Link),
            self.coworker_id.map(Subject::Coworker),
        ]
        .into_iter()
        .flatten()
    }

    pub fn is_invitee(&self) -> bool {
        self.link_id.is_some()
    }
}

/// What a view says about a request for application `application` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through, as the view's holder. `touch`: record this use (the last one
    /// recorded is a touch interval old); `first_reach`: an invitee's first request to
    /// this application.
    Allow { touch: bool, first_reach: bool },
    /// The session has ended. `end_now`: it ended by its limits just now, and the
    /// database does not know yet.
    Ended { end_now: bool },
    /// The holder's invitation does not open this application.
    Forbidden,
}

/// Judges a request for application `application` at `at` by `view`; `idle` is the
/// idle limit of the view's kind of session, `touch_every` how often a use is recorded.
pub fn judge(view: &View, application: i64, at: i64, idle: i64, touch_every: i64) -> Verdict {
    let last_seen = view.last_seen_at.load(Ordering::Acquire);
    if view.ended {
        return Verdict::Ended { end_now: false };
    }
    if view.holder.is_none() || view.expires_at <= at || last_seen + idle <= at {
        return Verdict::Ended { end_now: true };
    }
    let touch = at - last_seen >= touch_every;
    if !view.is_invitee() {
        return Verdict::Allow {
            touch,
            first_reach: false,
        };
    }
    if !view.opens.contains(&application) {
        return Verdict::Forbidden;
    }
    let first_reach = !view
        .reached
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(&application);
    Verdict::Allow { touch, first_reach }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An invitee's view (or a coworker's, with `coworker`), live until far ahead.
    pub fn view(loaded_at: u64, number: i64, link: Option<i64>, coworker: Option<i64>) -> View {
        View {
            loaded_at,
            id: SessionKey::of(&format!("s{number}")),
            number,
            link_id: link,
            coworker_id: coworker,
            holder: Some(Identity {
                email: "ada@example.com".into(),
                name: None,
                groups: if link.is_some() {
                    &["invitee"]
                } else {
                    &["coworker"]
                },
                link,
            }),
            ended: false,
            signed_out: false,
            expires_at: 10_000,
            last_seen_at: AtomicI64::new(1_000),
            opens: vec![1].into(),
            reached: Mutex::new(vec![]),
        }
    }

    #[test]
    fn a_session_id_is_kept_as_the_bytes_it_spells() {
        let id = crate::server::store::sessions::new_id();
        let key = SessionKey::of(&id);
        assert!(matches!(key, SessionKey::Bytes(_)));
        assert_eq!(key.text(), id);
        assert_eq!(SessionKey::of("auth-7").text(), "auth-7");
        assert_eq!(SessionKey::of(&"A".repeat(64)).text(), "A".repeat(64));
    }

    #[test]
    fn the_rule_in_one_table() {
        let invitee = view(1, 1, Some(10), None);
        let coworker = view(1, 2, None, Some(3));
        let (idle, every) = (600, 60);
        let allow = |touch, first_reach| Verdict::Allow { touch, first_reach };
        assert_eq!(judge(&invitee, 1, 1_010, idle, every), allow(false, true));
        assert_eq!(judge(&invitee, 1, 1_060, idle, every), allow(true, true));
        assert_eq!(judge(&invitee, 2, 1_010, idle, every), Verdict::Forbidden);
        assert_eq!(judge(&coworker, 2, 1_010, idle, every), allow(false, false));
        // Idle, then past the absolute end.
        assert_eq!(
            judge(&invitee, 1, 1_600, idle, every),
            Verdict::Ended { end_now: true }
        );
        invitee.last_seen_at.store(9_990, Ordering::Release);
        assert_eq!(
            judge(&invitee, 1, 10_000, idle, every),
            Verdict::Ended { end_now: true }
        );
        // Reached before: no second "Reached".
        let reached = view(1, 3, Some(10), None);
        reached.reached.lock().unwrap().push(1);
        assert_eq!(judge(&reached, 1, 1_010, idle, every), allow(false, false));
        // Ended in the database, or its holder gone.
        let mut ended = view(1, 4, Some(10), None);
        ended.ended = true;
        assert_eq!(
            judge(&ended, 1, 1_010, idle, every),
            Verdict::Ended { end_now: false }
        );
        let mut revoked = view(1, 5, Some(10), None);
        revoked.holder = None;
        assert_eq!(
            judge(&revoked, 1, 1_010, idle, every),
            Verdict::Ended { end_now: true }
        );
    }
}

//! A session as the gate sees it, and the rule that judges a request by it: a pure
//! function of the view, the application asked for and the time, the same whether the view
//! came from the gate's memory or straight from the database.

use super::memory::Subject;
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
    /// `auth_sessions.id` and `rowid`.
    pub id: String,
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
    /// The subjects whose changes outdate this view (see [`View::subjects`]).
    subjects: Box<[Subject]>,
}

impl View {
    /// The view of a row read at `loaded_at`.
    pub fn of(row: GateSession, loaded_at: u64) -> Self {
        let holder = match (row.coworker_id, row.link_id) {
            (Some(_), _) if row.c_deactivated_at.is_none() => row.c_email.map(|email| Identity {
                email,
                name: row.c_name,
                groups: if row.c_is_admin.is_some_and(|flag| flag.0) {
                    vec!["coworker", "admin"]
                } else {
                    vec!["coworker"]
                },
                link: None,
            }),
            (None, Some(link)) if row.l_revoked_at.is_none() => row.l_email.map(|email| Identity {
                email,
                name: row.l_name,
                groups: vec!["invitee"],
                link: Some(link),
            }),
            // A removed coworker's session, or one whose invitation was revoked.
            _ => None,
        };
        let subjects = subjects_of(&row.id, row.number, row.link_id, row.coworker_id);
        Self {
            subjects,
            loaded_at,
            id: row.id,
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

    /// The subjects whose changes outdate this view: its session (by number and by
    /// id), its invitation or its coworker.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    pub fn is_invitee(&self) -> bool {
        self.link_id.is_some()
    }
}

fn subjects_of(id: &str, number: i64, link: Option<i64>, coworker: Option<i64>) -> Box<[Subject]> {
    [
        Some(Subject::Session(number)),
        Some(Subject::SessionId(id.into())),
        link.map(Subject::Link),
        coworker.map(Subject::Coworker),
    ]
    .into_iter()
    .flatten()
    .collect()
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
            subjects: subjects_of(&format!("s{number}"), number, link, coworker),
            loaded_at,
            id: format!("s{number}"),
            number,
            link_id: link,
            coworker_id: coworker,
            holder: Some(Identity {
                email: "ada@example.com".into(),
                name: None,
                groups: vec![if link.is_some() {
                    "invitee"
                } else {
                    "coworker"
                }],
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

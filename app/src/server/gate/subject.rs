//! What a committed change is about: the gate forgets what it remembered of it.

/// What a committed change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// One session, by its number (`auth_sessions.rowid`).
    Session(i64),
    /// An invitation: revoked, renamed, its applications changed.
    Link(i64),
    /// A coworker: removed, role or name changed.
    Coworker(i64),
    /// The applications: every decision.
    Applications,
}

impl Subject {
    /// Reads a change notice (`session:12`, `link:3`, `coworker:4`, `applications`).
    pub fn parse(notice: &str) -> Option<Self> {
        if notice == "applications" {
            return Some(Self::Applications);
        }
        let (kind, id) = notice.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "session" => Some(Self::Session(id)),
            "link" => Some(Self::Link(id)),
            "coworker" => Some(Self::Coworker(id)),
            _ => None,
        }
    }
}

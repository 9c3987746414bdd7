//! A link's audit trail: what can happen to a link, and one entry of its trail.

use serde::{Deserialize, Serialize};

/// What happened to a link, as its audit trail records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Issued,
    MailSent,
    MailFailed,
    /// The landing page looked the link up (a person, or a mail scanner's preview).
    Opened,
    Redeemed,
    RedeemRefused,
    Revoked,
    SessionEnded,
    /// The holder asked for a new link; `other_link` is the new one.
    Renewed,
    /// A coworker sent a new link in this one's place; `other_link` is the new one.
    Resent,
    RenewalChanged,
    /// A session the link opened reached an application for the first time; `detail` is
    /// its name.
    Reached,
    /// A coworker changed which applications the link opens; `detail` says how.
    AccessChanged,
}

impl EventKind {
    pub const ALL: [Self; 13] = [
        Self::Issued,
        Self::MailSent,
        Self::MailFailed,
        Self::Opened,
        Self::Redeemed,
        Self::RedeemRefused,
        Self::Revoked,
        Self::SessionEnded,
        Self::Renewed,
        Self::Resent,
        Self::RenewalChanged,
        Self::Reached,
        Self::AccessChanged,
    ];

    /// The stored form (the `link_events.kind` column).
    pub fn code(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::MailSent => "mail_sent",
            Self::MailFailed => "mail_failed",
            Self::Opened => "opened",
            Self::Redeemed => "redeemed",
            Self::RedeemRefused => "redeem_refused",
            Self::Revoked => "revoked",
            Self::SessionEnded => "session_ended",
            Self::Renewed => "renewed",
            Self::Resent => "resent",
            Self::RenewalChanged => "renewal_changed",
            Self::Reached => "reached",
            Self::AccessChanged => "access_changed",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Issued => "Issued",
            Self::MailSent => "Mail sent",
            Self::MailFailed => "Mail delivery failed",
            Self::Opened => "Opened",
            Self::Redeemed => "Signed in",
            Self::RedeemRefused => "Sign-in refused",
            Self::Revoked => "Revoked",
            Self::SessionEnded => "Session ended",
            Self::Renewed => "New link requested",
            Self::Resent => "Resent",
            Self::RenewalChanged => "New-link requests changed",
            Self::Reached => "Reached",
            Self::AccessChanged => "Access changed",
        }
    }
}

/// One entry of a link's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkEvent {
    pub id: i64,
    /// Unix seconds, UTC; for a repeated event, the first time.
    pub at: i64,
    /// How many times it happened (looks and refusals from one network are folded).
    pub repeats: i64,
    /// For a repeated event, the last time.
    pub last_at: Option<i64>,
    pub kind: EventKind,
    /// The coworker who acted, by name (or address).
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Why: a refusal reason, the SMTP error, how a session ended.
    pub detail: Option<String>,
    /// The other link of a resend or renewal.
    pub other_link: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_round_trips_through_its_code() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(EventKind::parse("deleted"), None);
    }
}

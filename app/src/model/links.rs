//! Magic links as the pages see them: their states, the choices offered when issuing
//! one, the rows and details of the dashboard, and the answers of issuing, redeeming
//! and renewing.

use super::applications::ApplicationInfo;
use super::events::LinkEvent;
use super::sessions::LinkSession;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a magic link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Pending,
    Redeemed,
    Expired,
    Revoked,
}

impl LinkState {
    /// Every state, in the order the dashboard's filter lists them.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Redeemed, Self::Expired, Self::Revoked];

    /// The state's name on the wire: the `status` filter of `list_links`, the JSON, and
    /// the badge's CSS class. [`LinkState::parse`] reads it back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Redeemed => "redeemed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Redeemed => "Redeemed",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
        }
    }

    /// Parses the `status` filter of `list_links`.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == value)
    }
}

/// A state as the database names it (see `server::store::link_state`).
impl TryFrom<String> for LinkState {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or("not a link state")
    }
}

/// What became of the mail that carries a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Pending,
    Sent,
    Failed,
}

impl Delivery {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Sent, Self::Failed];

    /// The outcome's name in the database and on the wire; [`Delivery::parse`] reads it
    /// back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|delivery| delivery.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Sending",
            Self::Sent => "Sent",
            Self::Failed => "Delivery failed",
        }
    }
}

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// An outside person's access, issued by a coworker.
    Invite,
    /// A coworker's own sign-in to the dashboard.
    Signin,
}

/// How long a new link stays valid, as offered on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiresIn {
    #[serde(rename = "15m")]
    Minutes15,
    #[serde(rename = "1h")]
    Hour1,
    #[serde(rename = "24h")]
    Hours24,
    #[serde(rename = "7d")]
    Days7,
}

impl ExpiresIn {
    pub const ALL: [Self; 4] = [Self::Minutes15, Self::Hour1, Self::Hours24, Self::Days7];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|choice| choice.code() == value)
    }

    /// The wire form used by the API and the form field.
    pub fn code(self) -> &'static str {
        match self {
            Self::Minutes15 => "15m",
            Self::Hour1 => "1h",
            Self::Hours24 => "24h",
            Self::Days7 => "7d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Minutes15 => "15 minutes",
            Self::Hour1 => "1 hour",
            Self::Hours24 => "24 hours",
            Self::Days7 => "7 days",
        }
    }

    pub fn seconds(self) -> i64 {
        match self {
            Self::Minutes15 => 15 * 60,
            Self::Hour1 => 60 * 60,
            Self::Hours24 => 24 * 60 * 60,
            Self::Days7 => 7 * 24 * 60 * 60,
        }
    }
}

/// One row of the dashboard's links table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSummary {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub issued_by: String,
    pub state: LinkState,
    pub delivery: Delivery,
    /// The SMTP error, shown to coworkers only.
    pub delivery_error: Option<String>,
    /// Unix seconds, UTC.
    pub created_at: i64,
    pub expires_at: i64,
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The coworker who revoked it (by revoking or resending it), by name (or address).
    pub revoked_by: Option<String>,
    /// The names of the applications it opens, in the order they were registered.
    pub applications: Vec<String>,
}

impl LinkSummary {
    /// The moment that matters for the link's state, and its word: "Expires" (pending),
    /// "Used", "Expired", "Revoked". The dashboard shows this, not the expiry of a link
    /// that can no longer be used.
    pub fn milestone(&self) -> (&'static str, i64) {
        match self.state {
            LinkState::Pending => ("Expires", self.expires_at),
            LinkState::Redeemed => ("Used", self.redeemed_at.unwrap_or(self.expires_at)),
            LinkState::Expired => ("Expired", self.expires_at),
            LinkState::Revoked => ("Revoked", self.revoked_at.unwrap_or(self.expires_at)),
        }
    }
}

/// How many invitations are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCounts {
    pub pending: i64,
    pub redeemed: i64,
    pub expired: i64,
    pub revoked: i64,
}

impl LinkCounts {
    /// How many invitations are in `state`.
    pub fn of(&self, state: LinkState) -> i64 {
        match state {
            LinkState::Pending => self.pending,
            LinkState::Redeemed => self.redeemed,
            LinkState::Expired => self.expired,
            LinkState::Revoked => self.revoked,
        }
    }
}

/// A page of links, newest first, with the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPage {
    pub links: Vec<LinkSummary>,
    pub next_cursor: Option<String>,
}

/// The answer to `issue_link`: the only time the link's URL leaves the server
/// other than in the invitation email.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedLink {
    pub id: i64,
    pub email: String,
    pub expires_at: i64,
    pub delivery: Delivery,
    pub delivery_error: Option<String>,
    pub url: String,
}

impl fmt::Debug for IssuedLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedLink")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("expires_at", &self.expires_at)
            .field("delivery", &self.delivery)
            .field("url", &"[redacted]")
            .finish()
    }
}

/// What the landing page shows before the holder of a link decides to use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPreview {
    pub purpose: Purpose,
    pub email: String,
    pub name: Option<String>,
    pub inviter_name: String,
    pub inviter_email: String,
    pub state: LinkState,
    pub expires_at: i64,
    /// Whether the holder may ask for a new link (an expired or used invitation whose
    /// issuer allows it).
    pub can_renew: bool,
}

/// Everything a coworker can see about one link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDetails {
    pub link: LinkSummary,
    pub message: Option<String>,
    /// Where the invitee lands after signing in.
    pub destination: String,
    pub session_minutes: i64,
    pub renewal_allowed: bool,
    /// The link this one was issued in place of, and the one issued in its place.
    pub replaces: Option<i64>,
    pub replaced_by: Option<i64>,
    /// One page of the trail, newest first.
    pub events: Vec<LinkEvent>,
    /// The cursor of the next older page of the trail (`show_link`'s `before`).
    pub older_events: Option<i64>,
    /// Newest first.
    pub sessions: Vec<LinkSession>,
    /// The applications it opens.
    pub applications: Vec<ApplicationInfo>,
}

/// The answer to `renew_link`: where the new link went, masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewed {
    pub sent_to: String,
}

/// Where the browser goes after a successful redeem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redeemed {
    pub redirect_to: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_choices_parse_from_their_codes_only() {
        for choice in ExpiresIn::ALL {
            assert_eq!(ExpiresIn::parse(choice.code()), Some(choice));
        }
        assert_eq!(ExpiresIn::parse("2h"), None);
        assert_eq!(ExpiresIn::parse(""), None);
        assert_eq!(ExpiresIn::Days7.seconds(), 604_800);
        assert_eq!(ExpiresIn::Minutes15.seconds(), 900);
    }

    #[test]
    fn link_states_parse_from_their_wire_names_only() {
        let counts = LinkCounts {
            pending: 1,
            redeemed: 2,
            expired: 3,
            revoked: 4,
        };
        for (n, state) in LinkState::ALL.into_iter().enumerate() {
            assert_eq!(LinkState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
            assert_eq!(counts.of(state), n as i64 + 1);
        }
        assert_eq!(LinkState::parse("Pending"), None);
        assert_eq!(LinkState::parse(""), None);
        for delivery in Delivery::ALL {
            assert_eq!(Delivery::parse(delivery.as_str()), Some(delivery));
            assert_eq!(
                serde_json::to_string(&delivery).unwrap(),
                format!("\"{}\"", delivery.as_str())
            );
        }
        assert_eq!(Delivery::parse("Sent"), None);
    }

    #[test]
    fn a_link_shows_the_moment_of_its_state_not_a_stale_expiry() {
        let link = |state, redeemed_at, revoked_at| LinkSummary {
            id: 1,
            email: "a@example.com".into(),
            name: None,
            issued_by: "Bob".into(),
            state,
            delivery: Delivery::Sent,
            delivery_error: None,
            created_at: 100,
            expires_at: 1_000,
            redeemed_at,
            revoked_at,
            revoked_by: revoked_at.map(|_| "Carol".to_owned()),
            applications: Vec::new(),
        };
        assert_eq!(
            link(LinkState::Pending, None, None).milestone(),
            ("Expires", 1_000)
        );
        assert_eq!(
            link(LinkState::Redeemed, Some(200), None).milestone(),
            ("Used", 200)
        );
        assert_eq!(
            link(LinkState::Expired, None, None).milestone(),
            ("Expired", 1_000)
        );
        // Revoked wins over used, as the state does.
        assert_eq!(
            link(LinkState::Revoked, Some(200), Some(300)).milestone(),
            ("Revoked", 300)
        );
    }

    #[test]
    fn issued_link_debug_hides_the_url() {
        let issued = IssuedLink {
            id: 1,
            email: "a@example.com".into(),
            expires_at: 0,
            delivery: Delivery::Sent,
            delivery_error: None,
            url: "http://x/link#secret-token".into(),
        };
        assert!(!format!("{issued:?}").contains("secret-token"));
    }
}

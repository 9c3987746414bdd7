//! Data that crosses the wire between the server functions and the pages.

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

/// Wrong tries after which an invitation's code stops working (its link still works).
pub const MAX_CODE_FAILURES: i64 = 5;
/// The detail of a refused sign-in when a typed code matched none of the address's live
/// codes (on the trail of each of them).
pub const WRONG_CODE: &str = "wrong code";
/// The detail of the refusal that used up a code's last wrong try (it names
/// [`MAX_CODE_FAILURES`]; a test holds them together).
pub const CODE_LOCKED: &str = "code locked after 5 wrong tries";

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

/// A session a link opened, for the link's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct LinkSession {
    /// A handle for `end_session`; not a secret, and not the cookie.
    pub number: i64,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub user_agent: Option<String>,
    /// The address it was opened from.
    pub ip: Option<String>,
}

/// How long the session an invitation opens lasts, chosen at issue time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionLifetime {
    #[serde(rename = "8h")]
    Hours8,
    #[serde(rename = "7d")]
    Days7,
    #[serde(rename = "30d")]
    Days30,
}

impl SessionLifetime {
    pub const ALL: [Self; 3] = [Self::Hours8, Self::Days7, Self::Days30];
    pub const DEFAULT: Self = Self::Days7;

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|choice| choice.code() == value)
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Hours8 => "8h",
            Self::Days7 => "7d",
            Self::Days30 => "30d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Hours8 => "8 hours",
            Self::Days7 => "7 days",
            Self::Days30 => "30 days",
        }
    }

    pub fn minutes(self) -> i64 {
        match self {
            Self::Hours8 => 8 * 60,
            Self::Days7 => 7 * 24 * 60,
            Self::Days30 => 30 * 24 * 60,
        }
    }
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

/// Where a return address (`rd`) leads, when Latchkey may send a browser there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnAddress {
    /// The address, normalised; `None` when it is not one Latchkey sends browsers to.
    pub url: Option<String>,
    /// The application it is inside, by name.
    pub application: Option<String>,
}

/// An application behind the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationInfo {
    pub id: i64,
    pub name: String,
    /// Its base URL: every URL that starts with it (at a path boundary) is inside it.
    pub url: String,
}

/// A coworker, as admins manage them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct CoworkerInfo {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::server::store::flag::Flag"))]
    pub is_admin: bool,
    pub created_at: i64,
    /// Set once the coworker was deactivated.
    pub deactivated_at: Option<i64>,
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

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum SignedIn {
    Coworker {
        email: String,
        name: Option<String>,
        is_admin: bool,
    },
    Invitee {
        email: String,
        name: Option<String>,
        inviter_name: String,
        inviter_email: String,
        message: Option<String>,
    },
}

impl SignedIn {
    pub fn email(&self) -> &str {
        match self {
            Self::Coworker { email, .. } | Self::Invitee { email, .. } => email,
        }
    }
}

/// Formats unix seconds as `2026-11-25 14:03 UTC`, identically on server and client.
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// "in 23 hours", "5 minutes ago", "just now": how far `at` is from `now`, roughly.
pub fn relative_time(at: i64, now: i64) -> String {
    let delta = at - now;
    let secs = delta.abs();
    if secs < 60 {
        return "just now".to_owned();
    }
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    // Rounded to the nearest unit: a link made a second ago expires "in 24 hours".
    let round = |unit: i64| (secs + unit / 2) / unit;
    let amount = if secs < 3600 - 30 {
        plural(round(60), "minute")
    } else if secs < 2 * 86_400 - 1800 {
        plural(round(3600), "hour")
    } else {
        plural(round(86_400), "day")
    };
    if delta > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Howard Hinnant's days-to-civil algorithm: small, exact, and no date crate in the WASM.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lock_on_the_trail_names_the_number_of_tries() {
        assert!(super::CODE_LOCKED.contains(&format!(" {} ", super::MAX_CODE_FAILURES)));
    }

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
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_615_380), "2026-11-25 14:03 UTC");
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative_time(1_000, 1_000), "just now");
        assert_eq!(relative_time(1_000 + 59, 1_000), "just now");
        assert_eq!(relative_time(1_000 + 60, 1_000), "in 1 minute");
        assert_eq!(relative_time(1_000 - 140, 1_000), "2 minutes ago");
        assert_eq!(
            relative_time(86_400 + 23 * 3600 + 100, 86_400),
            "in 23 hours"
        );
        assert_eq!(relative_time(24 * 3600 - 1, 0), "in 24 hours");
        assert_eq!(relative_time(0, 7 * 86_400), "7 days ago");
        assert_eq!(relative_time(7 * 86_400 - 60, 0), "in 7 days");
        assert_eq!(relative_time(47 * 3600, 0), "in 47 hours");
        assert_eq!(relative_time(3599, 0), "in 1 hour");
    }

    #[test]
    fn every_event_kind_round_trips_through_its_code() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(EventKind::parse("deleted"), None);
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

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
        match value {
            "pending" => Some(Self::Pending),
            "redeemed" => Some(Self::Redeemed),
            "expired" => Some(Self::Expired),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
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
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_615_380), "2026-11-25 14:03 UTC");
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

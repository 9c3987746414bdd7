//! Sessions: the ones a link opened, how long an invitation's session lasts, and who
//! is signed in.

use serde::{Deserialize, Serialize};

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

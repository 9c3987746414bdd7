//! Parsing what a coworker or a link's holder sends: an invitation's fields, its
//! destination and renewal setting, the list's filter, and a token. Every refusal names
//! its field and says what would be accepted; nothing here touches the database.

use crate::error::AppError;
use crate::model::links::{ExpiresIn, LinkState};
use crate::model::sessions::SessionLifetime;
use crate::server::email::EmailAddress;
use crate::server::tokens::PlainToken;
use crate::server::urls::parse_absolute;

pub const MAX_NAME_CHARS: usize = 100;
const MAX_MESSAGE_CHARS: usize = 2000;
const MAX_QUERY_CHARS: usize = 254;
const MAX_DESTINATION_BYTES: usize = 500;

/// An invitation as the coworker asked for it, already parsed.
pub struct NewInvite {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub message: Option<String>,
    pub expires_in: ExpiresIn,
    /// Where the invitee lands after signing in; `None` is `/welcome`.
    pub destination: Option<String>,
    pub session: SessionLifetime,
    pub renewal_allowed: bool,
    /// The ids of the applications it opens; `None` is the default (the first
    /// registered application).
    pub applications: Option<Vec<i64>>,
}

/// The raw `issue_link` parameters.
#[derive(Default)]
pub struct InviteForm<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub message: Option<&'a str>,
    pub expires_in: &'a str,
    pub destination: Option<&'a str>,
    pub session_lifetime: Option<&'a str>,
    pub renewal: Option<&'a str>,
    pub applications: Option<&'a str>,
}

impl NewInvite {
    /// Parses the `issue_link` parameters; every refusal names its field.
    pub fn parse(form: &InviteForm<'_>) -> Result<Self, AppError> {
        let email = EmailAddress::parse("email", form.email)?;
        let name = optional_text("name", form.name, MAX_NAME_CHARS, false)?;
        let message = optional_text("message", form.message, MAX_MESSAGE_CHARS, true)?;
        let expires_in = ExpiresIn::parse(form.expires_in.trim()).ok_or_else(|| {
            AppError::invalid("expires_in", "Choose an expiry: 15m, 1h, 24h or 7d.")
        })?;
        let destination = parse_destination(form.destination)?;
        let session = match form
            .session_lifetime
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => SessionLifetime::DEFAULT,
            Some(value) => SessionLifetime::parse(value).ok_or_else(|| {
                AppError::invalid(
                    "session_lifetime",
                    "Choose a session lifetime: 8h, 7d or 30d.",
                )
            })?,
        };
        let renewal_allowed = parse_renewal(form.renewal)?.unwrap_or(true);
        let applications = parse_application_ids(form.applications)?;
        Ok(Self {
            email,
            name,
            message,
            expires_in,
            destination,
            session,
            renewal_allowed,
            applications,
        })
    }
}

/// `renewal`: `allowed` or `off`; `None` when not given.
pub fn parse_renewal(value: Option<&str>) -> Result<Option<bool>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some("allowed") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(_) => Err(AppError::invalid(
            "renewal",
            "New-link requests must be allowed or off.",
        )),
    }
}

/// A destination is a path on this site, or an address inside one of the applications
/// the invitation opens (checked when it is issued, against those applications).
///
/// A path has one leading `/`, then no backslash, no whitespace or control character,
/// and no encoded slash that a server might decode into `//`. An address is an http(s)
/// URL, kept in its normalised form. Anything else is refused.
pub fn parse_destination(value: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let refuse = |message: &str| Err(AppError::invalid("destination", message));
    if value.len() > MAX_DESTINATION_BYTES {
        return refuse("Keep the destination under 500 characters.");
    }
    let lowered = value.to_ascii_lowercase();
    if lowered.starts_with("http://") || lowered.starts_with("https://") {
        return match parse_absolute(value) {
            Some(url) if url.username().is_empty() && url.password().is_none() => {
                Ok(Some(url.to_string()))
            }
            _ => refuse(DESTINATION_RULE),
        };
    }
    if !value.starts_with('/')
        || value.starts_with("//")
        || value.contains('\\')
        || lowered.contains("%2f")
        || lowered.contains("%5c")
        || value.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return refuse(DESTINATION_RULE);
    }
    Ok(Some(value.to_owned()))
}

/// What a destination may be, as a refusal says it.
pub const DESTINATION_RULE: &str = "The destination must be a path on this site that starts \
     with a single /, like /projects/42, or an address inside the applications this invitation opens.";

/// `applications`: comma-separated application ids; `None` when not given.
pub fn parse_application_ids(value: Option<&str>) -> Result<Option<Vec<i64>>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let mut ids = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id = part
            .parse::<i64>()
            .ok()
            .filter(|&id| id > 0)
            .ok_or_else(|| {
                AppError::invalid("applications", "Choose the applications from the list.")
            })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > 100 {
            return Err(AppError::invalid(
                "applications",
                "That is too many applications.",
            ));
        }
    }
    Ok(Some(ids))
}

/// Trims optional free text; empty becomes `None`. Control characters are refused, except
/// line breaks where `multiline` allows them.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
    multiline: bool,
) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max_chars {
        return Err(AppError::invalid(
            field,
            format!("Keep this under {max_chars} characters."),
        ));
    }
    let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\r' || c == '\t'));
    if !value.chars().all(allowed) {
        return Err(AppError::invalid(
            field,
            "This contains characters that are not allowed.",
        ));
    }
    Ok(Some(value.replace("\r\n", "\n")))
}

/// The dashboard's filter.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub state: Option<LinkState>,
    pub query: Option<String>,
    /// List links with an id below this one.
    pub before: Option<i64>,
}

impl ListFilter {
    pub fn parse(
        status: Option<&str>,
        q: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, AppError> {
        let state = match status
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "all")
        {
            None => None,
            Some(value) => Some(LinkState::parse(value).ok_or_else(|| {
                AppError::invalid(
                    "status",
                    "Status must be pending, redeemed, expired or revoked.",
                )
            })?),
        };
        let query = q
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
        if query
            .as_ref()
            .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
        {
            return Err(AppError::invalid("q", "The search is too long."));
        }
        // No address holds a control character; SQLite's full-text search would also read
        // a NUL as the end of the search.
        if query
            .as_ref()
            .is_some_and(|q| q.chars().any(char::is_control))
        {
            return Err(AppError::invalid(
                "q",
                "The search contains characters that are not allowed.",
            ));
        }
        let before = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(cursor) => Some(
                cursor
                    .parse::<i64>()
                    .ok()
                    .filter(|&id| id > 0)
                    .ok_or_else(|| AppError::invalid("cursor", "The page cursor is not valid."))?,
            ),
        };
        Ok(Self {
            state,
            query,
            before,
        })
    }
}

/// Parses a token from a request; a malformed one never reaches the database.
pub fn parse_token(input: &str) -> Result<PlainToken, AppError> {
    PlainToken::parse(input.trim()).map_err(|_| AppError::LinkUnknown)
}

//! The one error type every server function answers with.
//!
//! Each variant is something the person in front of the screen can act on. Faults are
//! logged on the server with their cause and reach the client only as [`AppError::Internal`].

use crate::model::links::LinkState;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A user-facing error, serialized as JSON with an `error` tag and a `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AppError {
    #[error("Please sign in first.")]
    NotSignedIn,
    #[error("You are not allowed to do that.")]
    Forbidden,
    #[error("{message}")]
    InvalidInput { field: String, message: String },
    #[error("This link has already been used")]
    LinkUsed,
    #[error("This link has expired")]
    LinkExpired,
    #[error("This link was revoked")]
    LinkRevoked,
    #[error("This link is not valid")]
    LinkUnknown,
    #[error("Not found.")]
    NotFound,
    /// The same answer whether the address has no invitation, the code is wrong, or the
    /// code took too many wrong tries: no answer tells whether an address is invited.
    #[error(
        "That code does not match. Check the email address and the code in the mail; after \
         {} wrong tries a code stops working, and the link in the mail still does.",
        crate::model::codes::MAX_CODE_FAILURES
    )]
    CodeRefused,
    #[error("New links for this invitation are turned off. Ask the person who invited you.")]
    RenewalOff,
    #[error("Too many attempts. Please wait {} and try again.", wait_words(*retry_after_secs))]
    RateLimited { retry_after_secs: u64 },
    #[error("Latchkey is busy right now. Please try again in a moment.")]
    Busy,
    #[error("Could not reach Latchkey. Check your connection and try again.")]
    Network,
    #[error("Something went wrong. Please try again.")]
    Internal,
}

impl AppError {
    /// Why a link in `state` cannot be used; `None` while it is pending.
    pub fn refusal(state: LinkState) -> Option<Self> {
        match state {
            LinkState::Pending => None,
            LinkState::Redeemed => Some(Self::LinkUsed),
            LinkState::Expired => Some(Self::LinkExpired),
            LinkState::Revoked => Some(Self::LinkRevoked),
        }
    }

    /// Shorthand for a rejected field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// How long to wait before trying again, for errors that pass with time: sent as
    /// `Retry-After`.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Self::Busy => Some(1),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with (see docs/api.md).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidInput { .. } | Self::CodeRefused => 400,
            Self::NotSignedIn => 401,
            Self::Forbidden | Self::RenewalOff => 403,
            Self::LinkUnknown | Self::NotFound => 404,
            Self::LinkUsed | Self::LinkExpired | Self::LinkRevoked => 410,
            Self::RateLimited { .. } => 429,
            Self::Busy | Self::Network => 503,
            Self::Internal => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The request's parameters could not be read: missing, malformed or of the
            // wrong type. serde names the field; it never echoes a string's value.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                match missing_field(&message) {
                    Some(field) => Self::invalid(&field, "This is required."),
                    None => {
                        Self::invalid("request", format!("The request is malformed: {message}"))
                    }
                }
            }
            // On the server this is the request body failing to read: not UTF-8, or over
            // the size limit. (In the browser it would be a garbled answer: a fault.)
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(_) => Self::invalid(
                "request",
                "The request body could not be read: send UTF-8 form data of at most 64 KiB.",
            ),
            ServerFnErrorErr::Request(_) => Self::Network,
            _ => Self::Internal,
        }
    }
}

/// A wait in words: seconds under a minute and a half, whole minutes (rounded up) after.
fn wait_words(secs: u64) -> String {
    match secs {
        1 => "1 second".to_owned(),
        0..90 => format!("{secs} seconds"),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

/// The parameter a decoding error says is missing (serde's "missing field `name`"), when
/// it is one a form can carry: a short name of lowercase letters and underscores.
fn missing_field(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("missing field `")?;
    let (name, _) = rest.split_once('`')?;
    (!name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    .then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_with_a_tag_and_round_trip() {
        let error = AppError::invalid("email", "Enter an email address");
        let json = serde_json::to_string(&error).unwrap();
        assert_eq!(
            json,
            r#"{"error":"invalid_input","field":"email","message":"Enter an email address"}"#
        );
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), error);
        assert_eq!(
            serde_json::to_string(&AppError::LinkUsed).unwrap(),
            r#"{"error":"link_used"}"#
        );
    }

    #[test]
    fn a_refusal_says_how_long_to_wait_in_words() {
        let wait = |secs| {
            AppError::RateLimited {
                retry_after_secs: secs,
            }
            .to_string()
        };
        assert_eq!(
            wait(1),
            "Too many attempts. Please wait 1 second and try again."
        );
        assert_eq!(
            wait(42),
            "Too many attempts. Please wait 42 seconds and try again."
        );
        assert_eq!(
            wait(3600),
            "Too many attempts. Please wait 60 minutes and try again."
        );
        assert_eq!(
            wait(3541),
            "Too many attempts. Please wait 60 minutes and try again."
        );
    }

    #[test]
    fn a_missing_parameter_is_named() {
        assert_eq!(
            missing_field("missing field `expires_in`").as_deref(),
            Some("expires_in")
        );
        assert_eq!(missing_field("missing field `Weird Name`"), None);
        assert_eq!(missing_field("invalid digit found in string"), None);
    }

    #[test]
    fn token_errors_are_gone_and_faults_are_opaque() {
        assert_eq!(AppError::LinkRevoked.status(), 410);
        assert_eq!(AppError::LinkUnknown.status(), 404);
        assert_eq!(
            AppError::Internal.to_string(),
            "Something went wrong. Please try again."
        );
    }
}

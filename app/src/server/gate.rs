//! The gate: whether a request that a reverse proxy is about to pass to one of the
//! organisation's applications may go, and as whom. The proxy asks for every request
//! (nginx `auth_request`, Caddy `forward_auth`, Traefik `forwardAuth`); the HTTP side of
//! the two endpoints lives in the server crate (`server/src/gate.rs`).
//!
//! Nothing is cached: each decision reads the session, its coworker or link, and the
//! applications, so a revoke, a sign-out or a coworker's removal is seen by the very next
//! request. A URL inside no registered application is refused (the gate fails closed).

use super::applications::parse_absolute;
use super::auth::{self, Lookup, Principal};
use super::config::Config;
use super::db;
use super::store::applications::{self, Application};
use super::store::events::Event;
use super::{now, OrInternal};
use crate::error::AppError;
use crate::model::{EventKind, SignedIn};
use sqlx::AnyPool;
use url::Url;

/// Who the proxied request is from, for the identity headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub email: String,
    pub name: Option<String>,
    /// `coworker` (and `admin`), or `invitee`.
    pub groups: Vec<&'static str>,
    /// The invitation that opened an invitee's session.
    pub link: Option<i64>,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the request through, as `identity`.
    Allow(Identity),
    /// No session: sign in at `location`, which brings the browser back afterwards.
    SignIn { location: String },
    /// An invitee's session has ended: `location` says so, naming the application.
    Ended { location: String },
    /// Not for this session (`application` names the one it may not reach), or not
    /// inside any application (`None`).
    Forbidden { application: Option<String> },
}

/// Decides for a request to `url` from a browser whose session record names `auth_id`.
pub async fn decide(
    db: &AnyPool,
    writer: &AnyPool,
    config: &Config,
    auth_id: Option<&str>,
    url: &Url,
) -> Result<Decision, AppError> {
    let all = applications::all(db)
        .await
        .or_internal("reading applications")?;
    let Some(application) = all.into_iter().find(|app| app.base.contains(url)) else {
        return Ok(Decision::Forbidden { application: None });
    };
    let lookup = match auth_id {
        Some(auth_id) => auth::look_up(db, writer, config, auth_id, Some(application.id)).await?,
        None => Lookup::Unknown,
    };
    let caller = match lookup {
        Lookup::Alive(caller) => caller,
        Lookup::Ended { invitee: true } => {
            return Ok(Decision::Ended {
                location: latchkey_url(config, "/welcome", url),
            })
        }
        Lookup::Ended { invitee: false } | Lookup::Unknown => {
            return Ok(Decision::SignIn {
                location: latchkey_url(config, "/login", url),
            })
        }
    };
    let (opens, reached) = (caller.opens_application, caller.reached_application);
    let identity = match (caller.principal, caller.link_id) {
        (Principal::Coworker(coworker), _) => Identity {
            email: coworker.email,
            name: coworker.name,
            groups: if coworker.is_admin {
                vec!["coworker", "admin"]
            } else {
                vec!["coworker"]
            },
            link: None,
        },
        (Principal::Invitee(SignedIn::Invitee { email, name, .. }), Some(link_id)) => {
            if !opens {
                return Ok(Decision::Forbidden {
                    application: Some(application.name),
                });
            }
            if !reached {
                record_reach(writer, &caller.auth_id, link_id, &application).await?;
            }
            Identity {
                email,
                name,
                groups: vec!["invitee"],
                link: Some(link_id),
            }
        }
        // An invitee's principal always comes with its link.
        (Principal::Invitee(_), _) => return Err(AppError::Internal),
    };
    Ok(Decision::Allow(identity))
}

/// Puts "Reached NAME" on the link's trail the first time a session reaches an
/// application (later requests only read, in the session's lookup).
async fn record_reach(
    writer: &AnyPool,
    auth_id: &str,
    link_id: i64,
    application: &Application,
) -> Result<(), AppError> {
    let at = now();
    let mut tx = db::begin_write(writer)
        .await
        .or_internal("starting to record a reach")?;
    if applications::reached(&mut *tx, auth_id, application.id)
        .await
        .or_internal("recording a reach")?
    {
        Event::new(EventKind::Reached)
            .detail(&application.name)
            .record(&mut *tx, link_id, at)
            .await
            .or_internal("recording a reach")?;
    }
    tx.commit().await.or_internal("recording a reach")
}

/// `path` on Latchkey with `rd` (where to go back to) in its query.
fn latchkey_url(config: &Config, path: &str, rd: &Url) -> String {
    let rd: String = url::form_urlencoded::byte_serialize(rd.as_str().as_bytes()).collect();
    format!("{}{path}?rd={rd}", config.public_url.trim_end_matches('/'))
}

/// The URL of a proxied request: nginx's `X-Original-URL`, or Traefik's and Caddy's
/// `X-Forwarded-Proto`, `-Host` and `-Uri`. `None` when it is not an http(s) URL with a
/// host, which the gate refuses.
pub fn proxied_url(original: Option<&str>, forwarded: Option<(&str, &str, &str)>) -> Option<Url> {
    match (original, forwarded) {
        (Some(original), _) => parse_absolute(original),
        (None, Some((proto, host, uri))) => {
            if host.is_empty() || host.contains(['/', '\\', '@', '?', '#']) || !uri.starts_with('/')
            {
                return None;
            }
            parse_absolute(&format!("{proto}://{host}{uri}"))
        }
        (None, None) => None,
    }
}

/// The gate's 403 page (`templates/gate/forbidden.html`, escaped like every `.html`
/// template): which application this session may not open, or that the address is not
/// behind the gate at all.
#[derive(askama::Template)]
#[template(path = "gate/forbidden.html")]
struct ForbiddenPage<'a> {
    application: Option<&'a str>,
}

/// The 403 page for `application` (`None`: an address inside no application).
pub fn forbidden_page(application: Option<&str>) -> askama::Result<String> {
    askama::Template::render(&ForbiddenPage { application })
}

/// A header value for `text`: itself when it is printable ASCII, otherwise RFC 2047's
/// encoded-word (`=?UTF-8?B?…?=`, base64 of the UTF-8). Control characters never pass.
pub fn header_text(text: &str) -> String {
    use base64::Engine;
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_owned();
    }
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(clean.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forbidden_page_names_the_application_escaped() {
        let page = forbidden_page(Some("<Wiki & Co>")).unwrap();
        assert!(
            page.contains("does not open &lt;Wiki &amp; Co&gt;."),
            "{page}"
        );
        let page = forbidden_page(None).unwrap();
        assert!(page.contains("not one Latchkey lets anyone into"), "{page}");
    }

    #[test]
    fn names_become_safe_header_values() {
        assert_eq!(header_text("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(header_text("Zoë"), "=?UTF-8?B?Wm/Dqw==?=");
        let injected = header_text("Eve\r\nRemote-Groups: admin");
        assert!(
            !injected.contains('\r') && !injected.contains('\n'),
            "{injected}"
        );
        assert!(injected.starts_with("=?UTF-8?B?"));
    }

    #[test]
    fn the_proxied_url_is_read_from_either_set_of_headers() {
        let url = proxied_url(Some("https://wiki.example.com/a?b"), None).unwrap();
        assert_eq!(url.as_str(), "https://wiki.example.com/a?b");
        let url = proxied_url(None, Some(("https", "wiki.example.com", "/a?b"))).unwrap();
        assert_eq!(url.as_str(), "https://wiki.example.com/a?b");
        for (proto, host, uri) in [
            ("https", "evil.test/x", "/a"),
            ("https", "wiki.example.com@evil.test", "/a"),
            ("https", "", "/a"),
            ("javascript", "wiki.example.com", "/a"),
            ("https", "wiki.example.com", "a"),
            ("https", "wiki.example.com", "/a\r\nX: y"),
        ] {
            assert_eq!(
                proxied_url(None, Some((proto, host, uri))),
                None,
                "{host}{uri}"
            );
        }
        assert_eq!(proxied_url(Some("/relative"), None), None);
        assert_eq!(proxied_url(None, None), None);
    }
}

//! The gate: whether a request that a reverse proxy is about to pass to one of the
//! organisation's applications may go, and as whom. The proxy asks for every request
//! (nginx `auth_request`, Caddy `forward_auth`, Traefik `forwardAuth`); the HTTP side of
//! the two endpoints lives in the server crate (`server/src/gate.rs`).
//!
//! The gate decides from memory: the applications, and for each gate cookie seen the
//! session it stands for ([`memory`]), loaded on first use. Every committed change that can
//! alter a decision outdates what it is about before the next decision ([`follow`], and
//! [`changed`] in the process that made it), and idle and lifetime ends are computed from
//! the remembered deadlines ([`view::judge`]), so a revoke, a sign-out or a coworker's
//! removal is refused at the very next request. Uses are recorded behind the decisions
//! ([`behind`]). With `LATCHKEY_GATE_CACHE=off` every decision reads the database instead;
//! both give the same answers. A URL inside no registered application is refused (the
//! gate fails closed), and so is one the proxy and the gate could read differently
//! ([`request`]).
//!
//! ```text
//! request.rs  the proxied URL, read exactly
//! cookie.rs   the gate cookie: its name, its Set-Cookie, reading it
//! view.rs     a session as the gate sees it, and the rule that judges a request by it
//! memory.rs   the bounded memory of sessions, forgotten by subject
//! follow.rs   changes from other processes: the change log (SQLite), notices (PostgreSQL)
//! behind.rs   last use and first reaches, written behind the decisions
//! ```

pub mod behind;
pub mod cookie;
pub mod follow;
pub mod memory;
pub mod request;
pub mod subject;
pub mod view;

use super::config::{CacheMode, Config};
use super::db::Engine;
use super::store::applications::{self, Application};
use super::store::gate as store;
use super::store::sessions::{self, EndReason};
use super::tokens::TokenHash;
use super::urls::BaseUrl;
use super::{now, OrInternal};
use crate::error::AppError;
use behind::{Behind, Reach};
use follow::{Log, Notices};
use memory::Memory;
use request::{decoded_prefix, path_within, ProxiedUrl};
use sqlx::AnyPool;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock, Weak};
use subject::Subject;
use url::Url;
use view::{judge, Verdict, View};

/// Who the proxied request is from, for the identity headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub email: String,
    pub name: Option<String>,
    /// `coworker` (and `admin`), or `invitee`.
    pub groups: &'static [&'static str],
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

/// An application as the gate matches it: its base URL with the path prefix decoded.
#[derive(Debug)]
struct Route {
    application: Application,
    prefix: String,
}

impl Route {
    fn contains(&self, url: &ProxiedUrl) -> bool {
        let base: &BaseUrl = &self.application.base;
        url.url.scheme() == base.scheme
            && url.url.host_str() == Some(base.host.as_str())
            && url.url.port() == base.port
            && path_within(&url.path, &self.prefix)
    }
}

/// The application a URL is inside: of those whose base URL contains it, the one with the
/// longest path prefix, as a proxy picks the longest matching location.
fn route_for<'r>(routes: &'r [Route], url: &ProxiedUrl) -> Option<&'r Route> {
    routes
        .iter()
        .filter(|route| route.contains(url))
        .max_by_key(|route| route.prefix.len())
}

/// The applications as last read, and the memory's counter when they were.
struct Routes {
    loaded_at: u64,
    routes: Arc<[Route]>,
}

/// The gate of one serving process.
pub struct Gate {
    db: AnyPool,
    writer: AnyPool,
    config: Arc<Config>,
    /// `None`: `LATCHKEY_GATE_CACHE=off`.
    memory: Option<Arc<Memory>>,
    routes: RwLock<Option<Routes>>,
    follow: Follow,
    behind: Behind,
}

enum Follow {
    Log(Log),
    Notices(Arc<Notices>, tokio::task::JoinHandle<()>),
    /// Read-through: nothing to follow.
    Nothing,
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Follow::Notices(_, task) = &self.follow {
            task.abort();
        }
    }
}

/// The gates of this process, told of the changes it commits (see [`changed`]).
static GATES: Mutex<Vec<Weak<Gate>>> = Mutex::new(Vec::new());

/// Tells this process's gates that a change about `subject` was just committed. Every
/// writer that can alter a decision calls it after its commit, so the next decision on
/// this instance sees the change without waiting for the change log or a notice. (A
/// process can hold several servers, as the tests do: they all forget, which is only ever
/// safe.)
pub fn changed(subject: Subject) {
    for gate in gates() {
        if let Some(memory) = &gate.memory {
            memory.forget(subject);
        }
    }
}

/// Tells this process's gates that sessions changed in ways no subject names (the tests'
/// clock, moved by hand): they forget everything they remember.
pub fn changed_everything() {
    for gate in gates() {
        if let Some(memory) = &gate.memory {
            memory.forget_all();
        }
    }
}

fn gates() -> Vec<Arc<Gate>> {
    GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .collect()
}

impl Gate {
    /// The gate over `db` (reads) and `writer`, following changes as the engine allows.
    pub async fn start(
        db: AnyPool,
        writer: AnyPool,
        config: Arc<Config>,
    ) -> anyhow::Result<Arc<Self>> {
        use anyhow::Context;
        let memory = match config.gate_cache {
            CacheMode::On { sessions } => Some(Arc::new(Memory::new(sessions))),
            CacheMode::Off => None,
        };
        let follow = match (&memory, Engine::of(&db)) {
            (None, _) => Follow::Nothing,
            (Some(_), Engine::Sqlite) => Follow::Log(Log::new(
                store::last_change(&db)
                    .await
                    .context("reading the gate's change log")?,
            )),
            (Some(memory), Engine::Postgres) => {
                let notices = Arc::new(Notices::default());
                let task = notices.start(config.database_url.clone(), Arc::clone(memory));
                Follow::Notices(notices, task)
            }
        };
        let gate = Arc::new(Self {
            db,
            writer,
            config,
            memory,
            routes: RwLock::new(None),
            follow,
            behind: Behind::default(),
        });
        let mut gates = GATES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gates.retain(|gate| gate.strong_count() > 0);
        gates.push(Arc::downgrade(&gate));
        drop(gates);
        tokio::spawn(write_behind(Arc::downgrade(&gate)));
        Ok(gate)
    }

    /// The memory, when it may be used now: caching is on and, on PostgreSQL, change
    /// notices arrive.
    fn memory(&self) -> Option<&Memory> {
        let memory = self.memory.as_deref()?;
        match &self.follow {
            Follow::Notices(notices, _) if !notices.listening() => None,
            _ => Some(memory),
        }
    }

    /// How many sessions the gate remembers.
    pub fn remembered(&self) -> usize {
        self.memory.as_ref().map_or(0, |memory| memory.len())
    }

    /// Decides for a request to `url` from a browser that sent the gate cookies
    /// `cookies` (their hashes; usually one, none when signed out).
    pub async fn decide(
        &self,
        cookies: &[TokenHash],
        url: &ProxiedUrl,
    ) -> Result<Decision, AppError> {
        if let (Follow::Log(log), Some(memory)) = (&self.follow, &self.memory) {
            log.catch_up(&self.db, memory)
                .await
                .or_internal("reading the gate's change log")?;
        }
        let memory = self.memory();
        let routes = self.routes(memory).await?;
        let Some(route) = route_for(&routes, url) else {
            return Ok(Decision::Forbidden { application: None });
        };
        let application = &route.application;
        // A browser may hold more than one gate cookie (set before and after a change of
        // cookie domain, say): a live session's wins.
        let mut found: Option<Arc<View>> = None;
        for cookie in cookies {
            if let Some(view) = self.view(memory, cookie).await? {
                let live = !view.ended && view.holder.is_some();
                if found.is_none() || live {
                    found = Some(view);
                }
                if live {
                    break;
                }
            }
        }
        let Some(view) = found else {
            return Ok(Decision::SignIn {
                location: latchkey_url(&self.config, "/login", &url.url),
            });
        };
        let at = now();
        let idle = if view.is_invitee() {
            self.config.invitee_idle_timeout
        } else {
            self.config.coworker_idle_timeout
        };
        let idle = idle.as_secs() as i64;
        let touch_every = sessions::touch_interval(std::time::Duration::from_secs(idle as u64));
        match judge(&view, application.id, at, idle, touch_every) {
            Verdict::Allow { touch, first_reach } => {
                if touch {
                    view.last_seen_at.fetch_max(at, Ordering::AcqRel);
                    self.behind.used(&view.id(), at);
                }
                if let (true, Some(link_id)) = (first_reach, view.link_id) {
                    view.reached
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(application.id);
                    self.behind.reached(Reach {
                        session_id: view.id(),
                        link_id,
                        application_id: application.id,
                        application_name: application.name.clone(),
                        at,
                    });
                }
                // A view always has its holder when it allows.
                let identity = view.holder.clone().ok_or(AppError::Internal)?;
                Ok(Decision::Allow(identity))
            }
            Verdict::Forbidden => Ok(Decision::Forbidden {
                application: Some(application.name.clone()),
            }),
            Verdict::Ended { end_now } => {
                if end_now {
                    let id = view.id();
                    if let Some(number) = sessions::end(&self.writer, &id, EndReason::Expired, at)
                        .await
                        .or_internal("ending the session")?
                    {
                        changed(Subject::Session(number));
                    }
                }
                // An invitee who signed out is signed out, as a coworker is; one whose
                // session ended otherwise (revoked, idle, past its lifetime) is told so.
                Ok(if view.is_invitee() && !view.signed_out {
                    Decision::Ended {
                        location: latchkey_url(&self.config, "/welcome", &url.url),
                    }
                } else {
                    Decision::SignIn {
                        location: latchkey_url(&self.config, "/login", &url.url),
                    }
                })
            }
        }
    }

    /// The applications: remembered while no change to them was committed.
    async fn routes(&self, memory: Option<&Memory>) -> Result<Arc<[Route]>, AppError> {
        if let Some(memory) = memory {
            let held = self
                .routes
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(routes) = held.as_ref().filter(|r| memory.is_current(r.loaded_at)) {
                return Ok(Arc::clone(&routes.routes));
            }
        }
        let ticket = memory.map_or(0, Memory::ticket);
        let routes: Arc<[Route]> = applications::all(&self.db)
            .await
            .or_internal("reading applications")?
            .into_iter()
            .map(|application| Route {
                prefix: decoded_prefix(&application.base.path_prefix),
                application,
            })
            .collect();
        if memory.is_some() {
            *self
                .routes
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Routes {
                loaded_at: ticket,
                routes: Arc::clone(&routes),
            });
        }
        Ok(routes)
    }

    /// The session gate cookie `cookie` stands for: remembered, or read (and remembered).
    async fn view(
        &self,
        memory: Option<&Memory>,
        cookie: &TokenHash,
    ) -> Result<Option<Arc<View>>, AppError> {
        if let Some(view) = memory.and_then(|memory| memory.get(cookie)) {
            return Ok(Some(view));
        }
        let ticket = memory.map_or(0, Memory::ticket);
        let Some(row) = store::find(&self.db, cookie.as_bytes())
            .await
            .or_internal("looking up the session")?
        else {
            return Ok(None);
        };
        let view = View::of(row, ticket);
        // What is queued behind is what the database will say.
        let id = view.id();
        if let Some(used) = self.behind.use_of(&id) {
            view.last_seen_at.fetch_max(used, Ordering::AcqRel);
        }
        {
            let pending = self.behind.reaches_of(&id);
            let mut reached = view
                .reached
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            reached.extend(pending);
        }
        let view = Arc::new(view);
        if let Some(memory) = memory {
            memory.put(cookie, Arc::clone(&view));
        }
        Ok(Some(view))
    }

    /// Writes what is queued behind the decisions now (the task does so every second).
    pub async fn write_behind(&self) -> Result<(), AppError> {
        self.behind
            .write(&self.writer)
            .await
            .map(drop)
            .or_internal("recording the gate's uses")
    }
}

/// Writes the uses queued behind the decisions every [`behind::EVERY`], for as long as
/// the gate lives.
async fn write_behind(gate: Weak<Gate>) {
    let mut every = tokio::time::interval(behind::EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(gate) = gate.upgrade() else {
            return;
        };
        if let Err(error) = gate.behind.write(&gate.writer).await {
            tracing::warn!(%error, "recording the gate's uses failed; trying again");
        }
    }
}

/// `path` on Latchkey with `rd` (where to go back to) in its query.
fn latchkey_url(config: &Config, path: &str, rd: &Url) -> String {
    let rd: String = url::form_urlencoded::byte_serialize(rd.as_str().as_bytes()).collect();
    format!("{}{path}?rd={rd}", config.public_url.trim_end_matches('/'))
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
    fn a_url_belongs_to_the_application_with_the_longest_prefix_whatever_the_order() {
        let route = |id, url: &str| {
            let base = BaseUrl::parse(url).unwrap();
            Route {
                prefix: decoded_prefix(&base.path_prefix),
                application: Application {
                    id,
                    name: url.to_owned(),
                    base,
                },
            }
        };
        let routes = [
            route(1, "https://h.example.com/"),
            route(2, "https://h.example.com/admin"),
            route(3, "https://h.example.com/admin/deep"),
        ];
        let of = |url: &str| {
            route_for(&routes, &ProxiedUrl::from_original(url).unwrap())
                .map(|route| route.application.id)
        };
        assert_eq!(of("https://h.example.com/admin/x"), Some(2));
        assert_eq!(of("https://h.example.com/%61dmin/x"), Some(2));
        assert_eq!(of("https://h.example.com/admin/deep/x"), Some(3));
        assert_eq!(of("https://h.example.com/administrator"), Some(1));
        assert_eq!(of("https://other.example.com/admin"), None);
    }

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
}

//! Configuration from `LATCHKEY_*` environment variables, with the defaults
//! docs/configuration.md lists.

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server and the CLI read from the environment.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, or `postgres://…`
    /// (also `postgresql://`).
    pub database_url: String,
    /// Scheme, host and port the links point at, without a trailing slash.
    pub public_url: String,
    /// `smtp://…` or `smtps://…`; when unset, mail goes to [`Config::outbox_dir`].
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub outbox_dir: PathBuf,
    /// The secret one-time codes are stored under (`LATCHKEY_CODE_KEY_FILE`; by default
    /// `code.key` beside the SQLite database), made on first start.
    pub code_key_file: PathBuf,
    pub org_name: String,
    /// The longest expiry a coworker may choose.
    pub max_link_lifetime: Duration,
    pub signin_link_lifetime: Duration,
    pub coworker_session_lifetime: Duration,
    pub invitee_session_lifetime: Duration,
    /// A coworker session unused for this long ends.
    pub coworker_idle_timeout: Duration,
    /// An invitee session unused for this long ends.
    pub invitee_idle_timeout: Duration,
    /// How long dead links keep their token hash (and ended sessions their row) before
    /// the housekeeping task forgets them. The links themselves stay.
    pub dead_link_retention: Duration,
    pub smtp_timeout: Duration,
    /// How long a write waits for another writer's lock before answering "busy".
    pub db_busy_timeout: Duration,
    /// `LATCHKEY_SQLITE_SYNCHRONOUS`: `normal` (the default) or `full`.
    pub durability: super::db::Durability,
    pub rates: RateConfig,
    /// Take the client address from the last `X-Forwarded-For` entry (the one the proxy
    /// in front of Latchkey appended). Only behind a proxy that sets it.
    pub trust_forwarded_for: bool,
    /// IPv6 clients are limited and counted per network of this prefix length (see
    /// [`super::network`]).
    pub ipv6_prefix: u8,
    /// Outbox `.eml` files older than this are deleted (they hold live links).
    pub outbox_retention: Duration,
    /// Where `serve` writes the address it listens on once it does (`LATCHKEY_READY_FILE`),
    /// for whoever started it on port 0.
    pub ready_file: Option<PathBuf>,
    /// The proxies whose forwarded headers are believed (`LATCHKEY_TRUSTED_PROXIES`,
    /// CIDRs; loopback by default): the gate's `X-Original-URL` and `X-Forwarded-*`, and
    /// `X-Forwarded-For` when [`Config::trust_forwarded_for`] is on.
    pub trusted_proxies: Vec<IpNet>,
    /// The domain the gate cookie is set for (`LATCHKEY_COOKIE_DOMAIN`), so that
    /// applications on sibling hosts receive it; `None` keeps it host-only. Latchkey's
    /// own session cookie is always host-only.
    pub cookie_domain: Option<String>,
    /// Whether the gate remembers sessions, and how many (`LATCHKEY_GATE_CACHE`: `on`,
    /// the default, or `off`; `LATCHKEY_GATE_CACHE_SESSIONS`, 1,000,000 by default).
    pub gate_cache: CacheMode,
    /// Where `GET /metrics` is served, if anywhere.
    pub metrics: Metrics,
    /// `LATCHKEY_LOG_FORMAT`: lines for people (`text`, the default) or one JSON object
    /// per line (`json`).
    pub log_format: LogFormat,
}

/// Where the Prometheus metrics are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// Not at all, and nothing is counted (the default).
    Off,
    /// At `/metrics` beside the app (`LATCHKEY_METRICS=true`).
    WithTheApp,
    /// At `/metrics` on a listener of their own (`LATCHKEY_METRICS_ADDR`), so that the
    /// public address never answers them.
    Apart(std::net::SocketAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `url` without its user name and password, and with every query value replaced (a
/// PostgreSQL URL may carry `?password=…`, and no list of harmless keys stays true).
fn redact_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "[an SMTP URL that does not parse]".to_owned();
    };
    let userinfo = if parsed.username().is_empty() && parsed.password().is_none() {
        ""
    } else {
        "[redacted]@"
    };
    let host = parsed.host_str().unwrap_or("");
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = match parsed.path() {
        "" | "/" => "",
        path => path,
    };
    let query = parsed
        .query()
        .map(|query| {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) => format!("{key}=[redacted]"),
                    None => pair.to_owned(),
                })
                .collect();
            format!("?{}", pairs.join("&"))
        })
        .unwrap_or_default();
    format!("{}://{userinfo}{host}{port}{path}{query}", parsed.scheme())
}

/// A comma-separated list of CIDRs (a bare address is a network of one).
fn parse_networks(list: &str) -> Result<Vec<IpNet>> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .with_context(|| {
                    format!("LATCHKEY_TRUSTED_PROXIES: {entry:?} is not an address or a CIDR")
                })
        })
        .collect()
}

/// Budgets for [`super::limits::Limits`].
#[derive(Debug, Clone)]
pub struct RateConfig {
    pub links_per_minute: u32,
    pub signin_per_ip_per_minute: u32,
    /// Per address and client network: the budget a caller sees (429).
    pub signin_per_address_per_hour: u32,
    /// Per address, from anywhere: sign-in mails beyond it are not sent, and the answer
    /// does not say so.
    pub signin_mails_per_address_per_hour: u32,
    pub issue_per_coworker_per_minute: u32,
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok().filter(|value| !value.is_empty()))
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let text = |key: &str, default: &str| lookup(key).unwrap_or_else(|| default.to_owned());
        let minutes = |key: &str, default: u64| -> Result<Duration> {
            match lookup(key) {
                None => Ok(Duration::from_secs(default * 60)),
                Some(value) => value
                    .parse::<u64>()
                    .ok()
                    .filter(|&m| m > 0)
                    .map(|m| Duration::from_secs(m * 60))
                    .with_context(|| format!("{key} must be a positive number of minutes")),
            }
        };

        // A whole number of `unit`s; zero allowed.
        let number = |key: &str, default: u64, unit: &str| -> Result<u64> {
            lookup(key)
                .map(|v| v.parse::<u64>())
                .transpose()
                .with_context(|| format!("{key} must be a number of {unit}"))
                .map(|value| value.unwrap_or(default))
        };

        let count = |key: &str, default: u32| -> Result<u32> {
            match lookup(key) {
                None => Ok(default),
                Some(value) => value
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0)
                    .with_context(|| format!("{key} must be a positive whole number")),
            }
        };

        let public_url = text("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:3000")
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("LATCHKEY_PUBLIC_URL must start with http:// or https://");
        }
        let smtp_url = lookup("LATCHKEY_SMTP_URL");
        if let Some(url) = &smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                bail!("LATCHKEY_SMTP_URL must start with smtp:// or smtps://");
            }
        }
        let database_url = text("LATCHKEY_DATABASE_URL", "sqlite://data/latchkey.db");
        if super::db::Engine::of_url(&database_url).is_none() {
            bail!("LATCHKEY_DATABASE_URL must start with sqlite://, postgres:// or postgresql://");
        }

        let max_link_lifetime = minutes("LATCHKEY_MAX_LINK_MINUTES", 7 * 24 * 60)?;
        Ok(Self {
            database_url: database_url.clone(),
            public_url,
            smtp_url,
            mail_from: text("LATCHKEY_MAIL_FROM", "Latchkey <latchkey@localhost>"),
            outbox_dir: text("LATCHKEY_OUTBOX_DIR", "data/outbox").into(),
            code_key_file: lookup("LATCHKEY_CODE_KEY_FILE")
                .map_or_else(|| beside_database(&database_url, "code.key"), PathBuf::from),
            org_name: text("LATCHKEY_ORG_NAME", "Latchkey"),
            max_link_lifetime,
            signin_link_lifetime: minutes("LATCHKEY_SIGNIN_LINK_MINUTES", 15)?,
            coworker_session_lifetime: minutes("LATCHKEY_COWORKER_SESSION_MINUTES", 12 * 60)?,
            invitee_session_lifetime: minutes("LATCHKEY_INVITEE_SESSION_MINUTES", 30 * 24 * 60)?,
            coworker_idle_timeout: minutes("LATCHKEY_COWORKER_IDLE_MINUTES", 2 * 60)?,
            invitee_idle_timeout: minutes("LATCHKEY_INVITEE_IDLE_MINUTES", 24 * 60)?,
            dead_link_retention: minutes("LATCHKEY_DEAD_LINK_RETENTION_MINUTES", 30 * 24 * 60)?,
            smtp_timeout: Duration::from_secs(number(
                "LATCHKEY_SMTP_TIMEOUT_SECONDS",
                10,
                "seconds",
            )?),
            db_busy_timeout: Duration::from_millis(number(
                "LATCHKEY_DB_BUSY_TIMEOUT_MS",
                5000,
                "milliseconds",
            )?),
            durability: match lookup("LATCHKEY_SQLITE_SYNCHRONOUS") {
                None => super::db::Durability::Normal,
                Some(value) => super::db::Durability::parse(&value)
                    .context("LATCHKEY_SQLITE_SYNCHRONOUS must be normal or full")?,
            },
            rates: RateConfig {
                links_per_minute: count("LATCHKEY_RATE_LINKS_PER_MINUTE", 30)?,
                signin_per_ip_per_minute: count("LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE", 10)?,
                signin_per_address_per_hour: count("LATCHKEY_RATE_SIGNIN_PER_ADDRESS_PER_HOUR", 5)?,
                signin_mails_per_address_per_hour: count(
                    "LATCHKEY_RATE_SIGNIN_MAILS_PER_ADDRESS_PER_HOUR",
                    10,
                )?,
                issue_per_coworker_per_minute: count(
                    "LATCHKEY_RATE_ISSUE_PER_COWORKER_PER_MINUTE",
                    60,
                )?,
            },
            trust_forwarded_for: match lookup("LATCHKEY_TRUST_FORWARDED_FOR").as_deref() {
                None | Some("false" | "0") => false,
                Some("true" | "1") => true,
                Some(_) => bail!("LATCHKEY_TRUST_FORWARDED_FOR must be true or false"),
            },
            ipv6_prefix: match lookup("LATCHKEY_IPV6_PREFIX") {
                None => 64,
                Some(value) => value
                    .parse::<u8>()
                    .ok()
                    .filter(|bits| (1..=128).contains(bits))
                    .context("LATCHKEY_IPV6_PREFIX must be a prefix length from 1 to 128")?,
            },
            ready_file: lookup("LATCHKEY_READY_FILE").map(PathBuf::from),
            trusted_proxies: match lookup("LATCHKEY_TRUSTED_PROXIES") {
                None => vec![
                    "127.0.0.0/8".parse().expect("a fixed network"),
                    "::1/128".parse().expect("a fixed network"),
                ],
                Some(list) => parse_networks(&list)?,
            },
            cookie_domain: lookup("LATCHKEY_COOKIE_DOMAIN")
                .map(|domain| domain.trim().trim_start_matches('.').to_ascii_lowercase()),
            metrics: match (lookup("LATCHKEY_METRICS").as_deref(), lookup("LATCHKEY_METRICS_ADDR")) {
                (_, Some(addr)) => Metrics::Apart(addr.parse().with_context(|| {
                    format!("LATCHKEY_METRICS_ADDR must be an address and port such as 127.0.0.1:9100, not {addr:?}")
                })?),
                (None | Some("false" | "0"), None) => Metrics::Off,
                (Some("true" | "1"), None) => Metrics::WithTheApp,
                (Some(_), None) => bail!("LATCHKEY_METRICS must be true or false"),
            },
            gate_cache: match lookup("LATCHKEY_GATE_CACHE").as_deref() {
                None | Some("on") => CacheMode::On {
                    sessions: match lookup("LATCHKEY_GATE_CACHE_SESSIONS") {
                        None => 1_000_000,
                        Some(value) => value
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|n| (1..=100_000_000).contains(n))
                            .context("LATCHKEY_GATE_CACHE_SESSIONS must be a number of sessions from 1 to 100000000")?,
                    },
                },
                Some("off") => CacheMode::Off,
                Some(_) => bail!("LATCHKEY_GATE_CACHE must be on or off"),
            },
            log_format: match lookup("LATCHKEY_LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(_) => bail!("LATCHKEY_LOG_FORMAT must be text or json"),
            },
            outbox_retention: match lookup("LATCHKEY_OUTBOX_RETENTION_MINUTES") {
                None => max_link_lifetime,
                Some(_) => minutes("LATCHKEY_OUTBOX_RETENTION_MINUTES", 0)?,
            },
        })
        .and_then(Self::checked)
    }

    /// Refuses settings that contradict each other.
    fn checked(self) -> Result<Self> {
        if let Some(domain) = &self.cookie_domain {
            let host = url::Url::parse(&self.public_url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_owned))
                .context("LATCHKEY_PUBLIC_URL must be an http or https URL with a host")?;
            if !domain.contains('.') || domain.parse::<IpAddr>().is_ok() {
                bail!(
                    "LATCHKEY_COOKIE_DOMAIN must be a registrable domain such as example.com, \
                     not a single label or an address"
                );
            }
            if host != *domain && !host.ends_with(&format!(".{domain}")) {
                bail!(
                    "LATCHKEY_COOKIE_DOMAIN ({domain}) must contain the public URL's host ({host})"
                );
            }
        }
        Ok(self)
    }

    /// Whether forwarded headers from `peer` are believed.
    pub fn trusts_proxy(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            IpAddr::V4(_) => peer,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// The SMTP URL with its whole user information (name and password) replaced, fit
    /// for a log line. Parsed as a URL, so a password holding `@` or `:` is redacted
    /// whole; a URL that does not parse is not shown at all.
    pub fn smtp_url_redacted(&self) -> Option<String> {
        self.smtp_url.as_deref().map(redact_url)
    }

    /// A public URL on port 0 (`http://127.0.0.1:0`) means the port the server listens
    /// on: how a server started on a port the system picks still names itself.
    pub fn take_listening_port(&mut self, port: u16) {
        let origin = self.public_origin();
        if let Some(host) = origin.strip_suffix(":0") {
            let rest = &self.public_url[origin.len()..];
            self.public_url = format!("{host}:{port}{rest}");
        }
    }

    /// Whether cookies must be `Secure` and `__Host-` prefixed.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The public URL's origin, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> &str {
        // A public URL may carry a path prefix; the origin is scheme://host[:port].
        let after_scheme = self.public_url.find("://").map_or(0, |i| i + 3);
        match self.public_url[after_scheme..].find('/') {
            Some(slash) => &self.public_url[..after_scheme + slash],
            None => &self.public_url,
        }
    }

    /// The longest any session may last, coworker's or invitee's.
    pub fn longest_session_lifetime(&self) -> Duration {
        self.coworker_session_lifetime
            .max(self.invitee_session_lifetime)
    }

    /// Latchkey's own session cookie's name. The cookie is host-only whatever the cookie
    /// domain (only the gate cookie is set on that, see [`crate::server::gate::cookie`]),
    /// so on https it carries the `__Host-` prefix.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.is_https() {
            "__Host-latchkey_session"
        } else {
            "latchkey_session"
        }
    }
}

/// The SMTP URL may carry a password: `Debug` shows it redacted.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url_redacted())
            .field("mail_from", &self.mail_from)
            .field("outbox_dir", &self.outbox_dir)
            .field("org_name", &self.org_name)
            .field("max_link_lifetime", &self.max_link_lifetime)
            .field("signin_link_lifetime", &self.signin_link_lifetime)
            .field("coworker_session_lifetime", &self.coworker_session_lifetime)
            .field("invitee_session_lifetime", &self.invitee_session_lifetime)
            .field("coworker_idle_timeout", &self.coworker_idle_timeout)
            .field("invitee_idle_timeout", &self.invitee_idle_timeout)
            .field("dead_link_retention", &self.dead_link_retention)
            .field("smtp_timeout", &self.smtp_timeout)
            .field("db_busy_timeout", &self.db_busy_timeout)
            .field("durability", &self.durability)
            .field("rates", &self.rates)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("ipv6_prefix", &self.ipv6_prefix)
            .field("outbox_retention", &self.outbox_retention)
            .field("ready_file", &self.ready_file)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cookie_domain", &self.cookie_domain)
            .field("gate_cache", &self.gate_cache)
            .field("metrics", &self.metrics)
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// Whether the gate remembers sessions between decisions (`LATCHKEY_GATE_CACHE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// Remember up to this many sessions.
    On { sessions: usize },
    /// Read the database for every decision.
    Off,
}

#[cfg(test)]
mod tests;

/// `name` in the directory of the SQLite database `database_url` names; for a PostgreSQL
/// database, in `data/` (where `make run` keeps its files).
fn beside_database(database_url: &str, name: &str) -> PathBuf {
    let path = super::db::sqlite_path(database_url).unwrap_or("data/latchkey.db");
    std::path::Path::new(path)
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""))
        .join(name)
}

//! `spawn_app()` and what the tests need to talk to it.

use app::server::config::Config;
use app::server::coworkers;
use app::server::email::EmailAddress;
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};
use serde_json::Value;
use sqlx::AnyPool;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// Every in-process test server logs at debug level, so every log statement's formatting
/// runs in the tests; the lines go nowhere unless asked for. (The log-scan test runs the real binary with
/// a log file of its own: see `secrets.rs`.)
fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        // LATCHKEY_TEST_LOG=1 shows the lines (with `--nocapture`), to see a failure's cause.
        let show = std::env::var_os("LATCHKEY_TEST_LOG").is_some();
        tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=info,hyper=info,h2=info,tower_sessions=info,lettre=info")
            .with_ansi(false)
            .with_writer(move || -> Box<dyn std::io::Write> {
                if show {
                    Box::new(std::io::stderr())
                } else {
                    Box::new(std::io::sink())
                }
            })
            .init();
    });
}

/// The PostgreSQL server the suite runs against instead of SQLite, when it runs under
/// `with-postgres` (testkit), which sets `LATCHKEY_TEST_POSTGRES`.
pub fn postgres_server() -> Option<String> {
    std::env::var("LATCHKEY_TEST_POSTGRES").ok()
}

/// Whether this run is on PostgreSQL; the few tests about SQLite's files skip then.
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// Ends a test early, saying why, when the suite runs on PostgreSQL: for the tests of
/// what only SQLite has (its files, its lock, its query planner, its backup).
#[macro_export]
macro_rules! sqlite_only {
    ($why:literal) => {
        if $crate::helpers::on_postgres() {
            eprintln!("skipped on PostgreSQL: {}", $why);
            return;
        }
    };
}

/// A database of its own for one test: a new, empty PostgreSQL database when the suite
/// runs on PostgreSQL, otherwise the SQLite file `latchkey.db` in `dir`.
pub fn test_database_url(dir: &std::path::Path) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Some(server) = postgres_server() else {
        return format!("sqlite://{}", dir.join("latchkey.db").display());
    };
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let admin = server.clone();
    let create = format!("CREATE DATABASE {name}");
    // On a thread of its own: callers may be inside a runtime already.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                use sqlx::{Connection, Executor};
                let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
                connection.execute(create.as_str()).await.unwrap();
            });
    })
    .join()
    .unwrap();
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// A running server with its own database and outbox.
pub struct TestApp {
    pub base: String,
    /// The server's sign-in queue, to wait until it has worked every request.
    pub signins: app::server::signins::SigninQueue,
    /// The server's gate, to write what it queued behind its decisions.
    pub gate: std::sync::Arc<app::server::gate::Gate>,
    /// The server's configuration, for a second gate beside its own.
    pub config: std::sync::Arc<Config>,
    pub db: AnyPool,
    /// The server's pool for writing (one connection on SQLite), to see when a write
    /// has taken it, and for a second gate beside the server's.
    pub writer: AnyPool,
    /// `LATCHKEY_DATABASE_URL`: the SQLite file at `db_path`, or a PostgreSQL database.
    pub db_url: String,
    /// Where the SQLite file is (nothing is there on PostgreSQL).
    pub db_path: PathBuf,
    pub outbox: PathBuf,
    /// The front end's files would be here; tests put what they serve in it.
    pub site_root: PathBuf,
    _dir: tempfile::TempDir,
}

/// Options for [`spawn_app_with`].
#[derive(Default)]
pub struct Setup {
    pub smtp_url: Option<String>,
    /// Extra `LATCHKEY_*` variables, e.g. tight rate limits; they win over the defaults.
    pub env: Vec<(&'static str, String)>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup::default()).await
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let db_path = dir.path().join("latchkey.db");
    let outbox = dir.path().join("outbox");
    let db_url = test_database_url(dir.path());
    let vars = [
        ("LATCHKEY_DATABASE_URL", db_url.clone()),
        (
            "LATCHKEY_CODE_KEY_FILE",
            dir.path().join("code.key").display().to_string(),
        ),
        ("LATCHKEY_PUBLIC_URL", base.clone()),
        ("LATCHKEY_OUTBOX_DIR", outbox.display().to_string()),
        ("LATCHKEY_ORG_NAME", "Acme".to_owned()),
        ("LATCHKEY_SMTP_TIMEOUT_SECONDS", "3".to_owned()),
        // Tests make many calls from one address; the rate-limit tests set their own.
        ("LATCHKEY_RATE_LINKS_PER_MINUTE", "100000".to_owned()),
        (
            "LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE",
            "100000".to_owned(),
        ),
        (
            "LATCHKEY_RATE_SIGNIN_PER_ADDRESS_PER_HOUR",
            "100000".to_owned(),
        ),
        (
            "LATCHKEY_RATE_ISSUE_PER_COWORKER_PER_MINUTE",
            "100000".to_owned(),
        ),
    ];
    let config = Config::from_lookup(|key| {
        if key == "LATCHKEY_SMTP_URL" {
            return setup.smtp_url.clone();
        }
        setup
            .env
            .iter()
            .chain(vars.iter())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("latchkey")
        .site_root(dir.path().display().to_string())
        .site_addr(addr)
        .build();
    let (router, state) = server::build(config, options).await.unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    TestApp {
        base,
        signins: state.signins.clone(),
        gate: state.gate.clone(),
        config: state.config.clone(),
        db: state.db.clone(),
        writer: state.writer.clone(),
        db_url,
        db_path,
        outbox,
        site_root: dir.path().to_owned(),
        _dir: dir,
    }
}

/// A server function's answer.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// Latchkey's own session cookie's `Set-Cookie`, and the gate cookie's.
    pub set_cookie: Option<String>,
    pub set_gate_cookie: Option<String>,
    pub retry_after: Option<String>,
}

impl Answer {
    /// The `error` tag of an error answer.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

/// A page or redirect answering a plain HTML form.
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// The `Set-Cookie` of Latchkey's own session cookie in an answer (not the gate's).
pub fn session_set_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|cookie| !is_gate_cookie(cookie))
}

/// The `Set-Cookie` of the gate cookie in an answer.
pub fn gate_set_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|cookie| is_gate_cookie(cookie))
}

fn is_gate_cookie(pair: &str) -> bool {
    let name = pair.split('=').next().unwrap_or_default();
    name.trim_start_matches("__Secure-")
        .trim_start_matches("__Host-")
        == "latchkey_gate"
}

impl Client {
    /// Keeps the cookies an answer sets, as a browser would (deleting those set to
    /// expire): `cookie` is the `Cookie` header they make, Latchkey's own first.
    pub fn take_cookies(&mut self, headers: &reqwest::header::HeaderMap) {
        let mut jar: Vec<(String, String)> = self
            .cookie
            .as_deref()
            .unwrap_or_default()
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        for set in headers.get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            jar.retain(|(kept, _)| kept != name);
            if !set.contains("Max-Age=0") {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
        jar.sort_by_key(|(name, _)| is_gate_cookie(name));
        let header: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
        self.cookie = (!header.is_empty()).then(|| header.join("; "));
    }

    /// Latchkey's own session cookie alone (`name=value`), without the gate cookie.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie
            .as_deref()?
            .split("; ")
            .find(|pair| !is_gate_cookie(pair))
            .map(str::to_owned)
    }

    /// The gate cookie alone (`name=value`).
    pub fn gate_cookie(&self) -> Option<String> {
        self.cookie
            .as_deref()?
            .split("; ")
            .find(|pair| is_gate_cookie(pair))
            .map(str::to_owned)
    }
}

/// A browser-like client: remembers its cookies by hand, so tests can copy or replay
/// them.
#[derive(Clone, Default)]
pub struct Client {
    pub cookie: Option<String>,
    pub user_agent: Option<String>,
    /// Sent as `X-Forwarded-For`, as a proxy in front of Latchkey would.
    pub forwarded_for: Option<String>,
}

impl TestApp {
    pub async fn add_coworker(&self, email: &str, name: &str) {
        let email = EmailAddress::parse("email", email).unwrap();
        coworkers::add(&self.db, &email, Some(name)).await.unwrap();
    }

    /// POSTs a form to `/api/{endpoint}` as `client`.
    pub async fn call(&self, client: &mut Client, endpoint: &str, form: &[(&str, &str)]) -> Answer {
        Self::call_at(&self.base, client, endpoint, form).await
    }

    /// [`TestApp::call`] against the server at `base`.
    pub async fn call_at(
        base: &str,
        client: &mut Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Answer {
        Self::try_call_at(base, client, endpoint, form)
            .await
            .unwrap_or_else(|| panic!("{endpoint}: the server did not answer"))
    }

    /// [`TestApp::call_at`], or `None` when the connection fails or breaks: the server
    /// is gone.
    pub async fn try_call_at(
        base: &str,
        client: &mut Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Option<Answer> {
        let mut request = http()
            .post(format!("{base}/api/{endpoint}"))
            .header(ACCEPT, "application/json")
            .form(form);
        if let Some(cookie) = &client.cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(agent) = &client.user_agent {
            request = request.header(reqwest::header::USER_AGENT, agent);
        }
        if let Some(forwarded) = &client.forwarded_for {
            request = request.header("x-forwarded-for", forwarded);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookie = session_set_cookie(response.headers());
        let set_gate_cookie = gate_set_cookie(response.headers());
        client.take_cookies(response.headers());
        let text = response.text().await.ok()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Some(Answer {
            status,
            body,
            set_cookie,
            set_gate_cookie,
            retry_after,
        })
    }

    /// POSTs a plain HTML form to `path` as a browser without the WASM would, from a
    /// page of this site (its `Origin`). Keeps the session cookie the answer sets.
    pub async fn post_form(&self, client: &mut Client, path: &str, form: &[(&str, &str)]) -> Page {
        let mut request = http()
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header(ACCEPT, "text/html")
            .form(form);
        if let Some(cookie) = &client.cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(forwarded) = &client.forwarded_for {
            request = request.header("x-forwarded-for", forwarded);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        client.take_cookies(&headers);
        Page {
            status: response.status().as_u16(),
            headers,
            // Without Leptos' empty hydration markers, so tests read the markup as written.
            html: response.text().await.unwrap().replace("<!>", ""),
        }
    }

    /// The `role` of whoever `client` is signed in as, or "anonymous".
    pub async fn role(&self, client: &mut Client) -> String {
        let answer = self.call(client, "current_user", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["role"]
            .as_str()
            .unwrap_or("anonymous")
            .to_owned()
    }

    /// Waits until the server has worked (or dropped) `count` sign-in requests in all, so
    /// a test can check what they did not send.
    pub async fn signins_settled(&self, count: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.signins.settled() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {count} sign-in requests were worked",
                self.signins.settled()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The newest mail addressed to `to`, waiting (up to 10 seconds) until there is one.
    pub async fn mail_to(&self, to: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(mail) = self.mails_to(to).pop() {
                return mail;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail to {to} arrived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The mails whose `To:` header is `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        self.mails()
            .into_iter()
            .filter(|mail| addressed_to(mail, to))
            .collect()
    }

    /// Every mail in the outbox, oldest first (the file names start with the time they
    /// were written), with quoted-printable soft breaks undone.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        paths.sort();
        paths
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|raw| decode_quoted_printable(&raw))
            .collect()
    }

    /// Signs `client` in as a new coworker through the emailed sign-in link.
    pub async fn coworker_client(&self, email: &str, name: &str) -> Client {
        self.add_coworker(email, name).await;
        let mut client = Client::default();
        let answer = self
            .call(&mut client, "request_signin", &[("email", email)])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let token = token_in(&self.mail_to(email).await);
        let answer = self
            .call(&mut client, "redeem_link", &[("token", &token)])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["redirect_to"], "/dashboard");
        client
    }

    /// Signs a coworker in with a sign-in link made directly, for servers whose mail fails.
    pub async fn coworker_without_mail(&self, email: &str, name: &str) -> Client {
        self.add_coworker(email, name).await;
        let address = EmailAddress::parse("email", email).unwrap();
        let (url, _, _) = app::server::links::create_signin(&self.db, &self.base, 900, &address)
            .await
            .unwrap()
            .unwrap();
        let mut client = Client::default();
        let answer = self
            .call(&mut client, "redeem_link", &[("token", &token_in(&url))])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        client
    }

    /// Issues an invitation as `coworker` and returns the answer.
    pub async fn issue(&self, coworker: &mut Client, email: &str) -> Answer {
        self.call(
            coworker,
            "issue_link",
            &[
                ("email", email),
                ("name", "Alice Example"),
                ("message", "Welcome aboard"),
                ("expires_in", "24h"),
            ],
        )
        .await
    }

    /// Issues an invitation and returns (link id, token from the mail).
    pub async fn invite(&self, coworker: &mut Client, email: &str) -> (i64, String) {
        let answer = self.issue(coworker, email).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let token = token_in(&self.mail_to(email).await);
        (answer.body["id"].as_i64().unwrap(), token)
    }

    /// Link `id`'s whole trail as `coworker` sees it on `show_link`, newest first,
    /// following its "older" cursor to the start.
    pub async fn whole_trail(&self, coworker: &mut Client, id: i64) -> Vec<Value> {
        let mut events = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let id = id.to_string();
            let mut form = vec![("id", id.as_str())];
            if let Some(before) = &before {
                form.push(("before", before.as_str()));
            }
            let page = self.call(coworker, "show_link", &form).await;
            assert_eq!(page.status, 200, "{}", page.body);
            events.extend(page.body["events"].as_array().unwrap().iter().cloned());
            match page.body["older_events"].as_i64() {
                Some(older) => before = Some(older.to_string()),
                None => return events,
            }
        }
    }

    /// What the database holds: the rows of every table the catalogue lists (so a new
    /// table is counted without being named here), and the states within them that a
    /// request changes without adding a row. What a refused request must leave as it
    /// was. Left out: the migrator's own table; mail delivery events, which a request
    /// answered earlier may still be recording; and `rate_limits` (PostgreSQL), which
    /// every attempt is meant to charge, refused or not (see [`TestApp::rate_limit_keys`]).
    pub async fn table_counts(&self) -> std::collections::BTreeMap<String, i64> {
        let mut counts = std::collections::BTreeMap::new();
        let tables: Vec<String> = sqlx::query_scalar(if on_postgres() {
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        })
        .fetch_all(&self.db)
        .await
        .unwrap();
        for table in tables {
            if matches!(
                table.as_str(),
                "_sqlx_migrations" | "rate_limits" | "link_events"
            ) {
                continue;
            }
            let rows = self
                .count(&format!("SELECT count(*) FROM \"{table}\""))
                .await;
            counts.insert(format!("rows in {table}"), rows);
        }
        for (name, sql) in [
            (
                "active coworkers",
                "SELECT count(*) FROM coworkers WHERE deactivated_at IS NULL",
            ),
            ("admins", "SELECT count(*) FROM coworkers WHERE is_admin"),
            (
                "revoked links",
                "SELECT count(*) FROM magic_links WHERE revoked_at IS NOT NULL",
            ),
            (
                "used links",
                "SELECT count(*) FROM magic_links WHERE redeemed_at IS NOT NULL",
            ),
            (
                "links open to renewal",
                "SELECT count(*) FROM magic_links WHERE renewal_allowed",
            ),
            (
                "live sessions",
                "SELECT count(*) FROM auth_sessions WHERE ended_at IS NULL",
            ),
            (
                "events",
                "SELECT count(*) FROM link_events WHERE kind NOT IN ('mail_sent', 'mail_failed')",
            ),
            (
                "event repeats",
                "SELECT CAST(coalesce(sum(repeats), 0) AS BIGINT) FROM link_events
                  WHERE kind NOT IN ('mail_sent', 'mail_failed')",
            ),
        ] {
            counts.insert(name.to_owned(), self.count(sql).await);
        }
        counts
    }

    /// Writes the uses the gate queued behind its decisions (its task does every second).
    pub async fn gate_uses_written(&self) {
        self.gate.write_behind().await.unwrap();
    }

    /// How many rate-limit keys `rate_limits` holds (PostgreSQL; on SQLite the limits are
    /// kept in memory: 0) other than those `own` lists: what the request's input could
    /// have added. Keys whose budget is full again are forgotten at any moment, so this
    /// may fall between two reads, never rise on a refused request.
    pub async fn rate_limit_keys(&self, own: &[String]) -> i64 {
        if !on_postgres() {
            return 0;
        }
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM rate_limits")
            .fetch_all(&self.db)
            .await
            .unwrap();
        keys.iter().filter(|key| !own.contains(key)).count() as i64
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.db).await.unwrap()
    }
}

// Time passing and other states the API cannot reach on purpose. The tests make them by
// moving stored times back (never by waiting) or undoing a redeem, through these helpers
// only, so each such statement is written once and named by what it stands for.

/// Which live sessions (not yet ended) a shift in time applies to.
#[derive(Clone, Copy, Debug)]
pub enum SessionsOf {
    /// Every coworker's session.
    Coworkers,
    /// Every invitee's session.
    Invitees,
    /// The sessions link `id` opened.
    Link(i64),
}

impl SessionsOf {
    fn filter(self) -> String {
        let whose = match self {
            SessionsOf::Coworkers => "coworker_id IS NOT NULL".to_owned(),
            SessionsOf::Invitees => "link_id IS NOT NULL".to_owned(),
            SessionsOf::Link(id) => format!("link_id = {id}"),
        };
        format!("{whose} AND ended_at IS NULL")
    }
}

impl TestApp {
    /// Link `id`'s life moves into the past, its length kept: it expired 10 seconds ago.
    pub async fn expire_link(&self, id: i64) {
        sqlx::query(
            "UPDATE magic_links SET created_at = created_at - (expires_at - created_at) - 10,
                                    expires_at = created_at - 10
             WHERE id = $1",
        )
        .bind(id)
        .execute(&self.db)
        .await
        .unwrap();
    }

    /// Link `id` reads as never used, so its token signs in one more browser; the
    /// sessions it already opened stay.
    pub async fn mark_unused(&self, id: i64) {
        sqlx::query("UPDATE magic_links SET redeemed_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await
            .unwrap();
    }

    /// Link `id`'s code has had no wrong try: its whole budget again.
    pub async fn forget_wrong_codes(&self, id: i64) {
        sqlx::query("UPDATE magic_links SET code_failures = 0 WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await
            .unwrap();
    }

    /// `whose` sessions were last used `secs` earlier than recorded: idle that much longer.
    pub async fn idle_sessions(&self, whose: SessionsOf, secs: i64) {
        let filter = whose.filter();
        sqlx::query(&format!(
            "UPDATE auth_sessions SET last_seen_at = last_seen_at - $1 WHERE {filter}"
        ))
        .bind(secs)
        .execute(&self.db)
        .await
        .unwrap();
        clock_moved();
    }

    /// `whose` sessions reach their absolute limit `secs` earlier. Only the session's row
    /// changes: the browser keeps its cookie and the session layer its record.
    pub async fn end_sessions_sooner(&self, whose: SessionsOf, secs: i64) {
        let filter = whose.filter();
        sqlx::query(&format!(
            "UPDATE auth_sessions SET expires_at = expires_at - $1 WHERE {filter}"
        ))
        .bind(secs)
        .execute(&self.db)
        .await
        .unwrap();
        clock_moved();
    }

    /// `secs` pass for every session: every stored time of the `auth_sessions` rows and of
    /// the session layer's records moves back by that much.
    pub async fn age_sessions(&self, secs: i64) {
        sqlx::query(
            "UPDATE auth_sessions SET created_at = created_at - $1,
                                      last_seen_at = last_seen_at - $1,
                                      expires_at = expires_at - $1",
        )
        .bind(secs)
        .execute(&self.db)
        .await
        .unwrap();
        sqlx::query("UPDATE tower_sessions SET expiry_date = expiry_date - $1")
            .bind(secs)
            .execute(&self.db)
            .await
            .unwrap();
        clock_moved();
    }
}

/// The tests move stored times by hand, which no running gate can tell from a change:
/// SQLite's change log records it before the next decision, but PostgreSQL's notice
/// arrives a moment later, so this process's gates are told at once (as a server is told
/// of its own writes).
fn clock_moved() {
    app::server::gate::changed_everything();
}

/// A loopback port that refuses connections, held for as long as the returned socket
/// lives: bound but never listening, so no other process can take it meanwhile. A mail
/// server that is down.
pub fn refusing_port() -> (u16, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (port, socket)
}

/// The token of the first magic link in `text`.
pub fn token_in(text: &str) -> String {
    let start = text.find("/link#").expect("no magic link in the mail") + "/link#".len();
    text[start..start + 43].to_owned()
}

/// Every token of every magic link in `text`.
pub fn tokens_in(text: &str) -> Vec<String> {
    text.match_indices("/link#")
        .filter_map(|(i, _)| text.get(i + 6..i + 6 + 43))
        .map(str::to_owned)
        .collect()
}

/// Whether `mail`'s `To:` header names exactly `to` (bare, or as `Name <to>`).
pub fn addressed_to(mail: &str, to: &str) -> bool {
    mail.lines()
        .map(|line| line.trim_end_matches('\r'))
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("To: "))
        .any(|header| header == to || header.ends_with(&format!("<{to}>")))
}

/// The one-time code a mail carries (`Code: ABCD-EFGH`).
pub fn code_in(mail: &str) -> String {
    let (_, rest) = mail.split_once("Code: ").expect("a code in the mail");
    rest.chars().take(9).collect()
}

/// The distinct tokens in `mails`.
pub fn distinct_tokens<'a>(mails: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let set: std::collections::BTreeSet<String> =
        mails.into_iter().flat_map(|m| tokens_in(m)).collect();
    set.into_iter().collect()
}

pub fn decode_quoted_printable(raw: &str) -> String {
    raw.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

pub fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Every test has its own runtime; a pooled connection belongs to the runtime
            // that opened it, so none is kept for another test to pick up.
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    })
}

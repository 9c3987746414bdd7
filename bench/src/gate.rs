//! The gate's workload: a database of live invitee sessions seeded straight into SQLite
//! (as a redeem leaves them), the answers every kind of gate request must get, and the
//! cookies and addresses the timed phases send.

use anyhow::{bail, ensure, Context, Result};
use app::server::email::EmailAddress;
use app::server::store::session_records::PreparedRecords;
use app::server::store::sessions::new_id;
use app::server::tokens::PlainToken;
use app::server::{applications, coworkers, db, now};
use std::path::Path;
use std::time::Duration;

/// The applications registered behind the gate. Every invitation opens the first; every
/// other one (even numbers) opens the second too; none opens the third.
pub const WIKI: &str = "http://wiki.bench.test";
pub const GRAFANA: &str = "http://grafana.bench.test";
pub const ADMIN: &str = "http://admin.bench.test";

/// One live invitee session.
pub struct GateSession {
    /// `name=value` for the `Cookie` header: the gate cookie's token.
    pub cookie: String,
    /// What the gate must answer as `Remote-Email` (and `Remote-User`).
    pub email: String,
    pub link_id: i64,
}

pub struct GateSeeded {
    pub sessions: Vec<GateSession>,
    /// A session a revoke ended: the gate must say so.
    pub ended_cookie: String,
}

/// The gate cookie's name on a server on plain http.
const COOKIE_NAME: &str = "latchkey_gate";

/// A fresh database with one coworker, the three applications and `count` live invitee
/// sessions, each from its own redeemed invitation, its tower-sessions record stored as
/// a redeem stores it, and its first reach of the wiki already recorded (the steady
/// state: after that, a decision only reads). Plus one session a revoke ended.
pub async fn seed(path: &Path, count: usize) -> Result<GateSeeded> {
    let pool = db::connect(
        &format!("sqlite://{}", path.display()),
        Duration::from_secs(5),
        db::Durability::Full,
    )
    .await?;
    let email = EmailAddress::parse("email", "inviter@example.com").map_err(anyhow::Error::msg)?;
    coworkers::add(&pool, &email, Some("Bench Inviter")).await?;
    let mut ids = Vec::new();
    for (name, url) in [("Wiki", WIKI), ("Grafana", GRAFANA), ("Admin", ADMIN)] {
        let app = applications::add(&pool, name, url)
            .await
            .map_err(|e| anyhow::anyhow!("registering {name}: {e:?}"))?;
        ids.push(app.id);
    }
    pool.close().await;

    let path = path.to_owned();
    tokio::task::spawn_blocking(move || insert_sessions(&path, count, ids[0], ids[1]))
        .await
        .context("seeding the gate's sessions")?
}

fn insert_sessions(path: &Path, count: usize, wiki: i64, grafana: i64) -> Result<GateSeeded> {
    let mut connection = rusqlite::Connection::open(path)?;
    connection.pragma_update(None, "foreign_keys", true)?;
    let at = now();
    let created = at - 3600;
    let expires = at + 86_400;
    let tx = connection.transaction()?;
    let mut sessions = Vec::with_capacity(count);
    let mut ended_cookie = String::new();
    for i in 0..=count {
        let ended = i == count;
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
        hash[8] = 0x9a;
        let email = format!("gate-{i}@example.com");
        let link_id: i64 = tx
            .prepare_cached(
                "INSERT INTO magic_links (token_hash, purpose, recipient_email, recipient_name,
                        coworker_id, created_at, expires_at, redeemed_at, delivery)
                 VALUES (?1, 'invite', ?2, ?3, 1, ?4, ?5, ?4, 'sent') RETURNING id",
            )?
            .query_row(
                rusqlite::params![&hash[..], email, format!("Guest {i}"), created, expires],
                |row| row.get(0),
            )?;
        let mut opens = vec![wiki];
        if i % 2 == 0 {
            opens.push(grafana);
        }
        for application in opens {
            tx.prepare_cached(
                "INSERT INTO link_applications (link_id, application_id) VALUES (?1, ?2)",
            )?
            .execute(rusqlite::params![link_id, application])?;
        }
        let auth_id = new_id();
        let gate_token = PlainToken::generate();
        tx.prepare_cached(
            "INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at,
                    ended_at, end_reason, user_agent, ip, gate_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'latchkey-bench', '127.0.0.1', ?8)",
        )?
        .execute(rusqlite::params![
            auth_id,
            link_id,
            created,
            at,
            expires,
            ended.then_some(at),
            ended.then_some("link_revoked"),
            gate_token.hashed().as_bytes(),
        ])?;
        // Exactly the record a redeem stores (`Redeem::statements`), expiring with the
        // session.
        let record = PreparedRecords::prepare(&auth_id).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tx.prepare_cached(
            "INSERT INTO tower_sessions (id, data, expiry_date)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(rusqlite::params![
            record.id.to_string(),
            record.data,
            expires
        ])?;
        tx.prepare_cached(
            "INSERT INTO session_applications (session_id, application_id) VALUES (?1, ?2)",
        )?
        .execute(rusqlite::params![auth_id, wiki])?;
        let cookie = format!("{COOKIE_NAME}={}", gate_token.expose());
        if ended {
            ended_cookie = cookie;
        } else {
            sessions.push(GateSession {
                cookie,
                email,
                link_id,
            });
        }
    }
    tx.commit()?;
    Ok(GateSeeded {
        sessions,
        ended_cookie,
    })
}

/// Marks every live session as seen now, so no decision in the next minute records a
/// use (a write): the timed phases measure decisions that only read. Answers the time.
pub fn restamp(path: &Path) -> Result<i64> {
    let connection = rusqlite::Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    let at = now();
    connection.execute(
        "UPDATE auth_sessions SET last_seen_at = ?1 WHERE ended_at IS NULL",
        [at],
    )?;
    Ok(at)
}

/// How many sessions the server recorded a use of after `since` (each one a write on
/// the decision's path).
pub fn touched_since(path: &Path, since: i64) -> Result<i64> {
    let connection = rusqlite::Connection::open(path)?;
    Ok(connection.query_row(
        "SELECT count(*) FROM auth_sessions WHERE last_seen_at > ?1",
        [since],
        |row| row.get(0),
    )?)
}

/// The order the timed phases visit sessions in: every one once per round, consecutive
/// requests on sessions far apart (a stride coprime to `count`).
pub fn spread(i: usize, count: usize) -> usize {
    const STRIDE: usize = 7_919;
    let stride = if count.is_multiple_of(STRIDE) {
        1
    } else {
        STRIDE
    };
    (i * stride) % count
}

/// Checks the gate's answer for each kind of request once: allowed (with every
/// identity header), an application the invitation does not open, an address outside
/// every application, no session, an unknown session, a revoked session, and the
/// forward-auth endpoint. Fails on the first wrong answer.
pub async fn check_answers(base: &str, seeded: &GateSeeded) -> Result<usize> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let ask = |url: &str, cookie: Option<&str>| {
        let mut request = http
            .get(format!("{base}/gate/auth-request"))
            .header("x-original-url", url)
            .header("x-original-method", "GET");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        request.send()
    };
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let [even, odd] = [&seeded.sessions[0], &seeded.sessions[1]];
    let mut checked = 0;

    let wiki_page = format!("{WIKI}/page/1");
    let allowed = ask(&wiki_page, Some(&even.cookie)).await?;
    ensure!(allowed.status() == 200, "allowed: {}", allowed.status());
    for (name, want) in [
        ("remote-user", even.email.as_str()),
        ("remote-email", even.email.as_str()),
        ("remote-name", "Guest 0"),
        ("remote-groups", "invitee"),
        ("remote-link", &even.link_id.to_string()),
    ] {
        ensure!(
            header(&allowed, name) == want,
            "allowed: {name} is not {want}"
        );
    }
    checked += 1;

    for (what, url, cookie, status, location) in [
        (
            "another opened application",
            GRAFANA,
            Some(&even.cookie),
            200,
            None,
        ),
        (
            "an application not opened",
            GRAFANA,
            Some(&odd.cookie),
            403,
            None,
        ),
        (
            "an application no one opens",
            ADMIN,
            Some(&odd.cookie),
            403,
            None,
        ),
        (
            "outside every application",
            "http://elsewhere.bench.test/",
            Some(&even.cookie),
            403,
            None,
        ),
        ("no session", WIKI, None, 401, Some("/login?rd=")),
        (
            "an unknown session",
            WIKI,
            Some(&format!("{COOKIE_NAME}={}", "A".repeat(43))),
            401,
            Some("/login?rd="),
        ),
        (
            "a session its invitation's revoke ended",
            WIKI,
            Some(&seeded.ended_cookie),
            401,
            Some("/welcome?rd="),
        ),
    ] {
        let response = ask(url, cookie.map(String::as_str)).await?;
        let got = response.status().as_u16();
        let at = header(&response, "location");
        if got != status || location.is_some_and(|l| !at.contains(l)) {
            bail!("{what}: answered {got} (Location {at:?}), not {status} {location:?}");
        }
        checked += 1;
    }

    let forwarded = http
        .get(format!("{base}/gate/forward-auth"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "wiki.bench.test")
        .header("x-forwarded-uri", "/page/1")
        .header("cookie", odd.cookie.clone())
        .send()
        .await?;
    ensure!(
        forwarded.status() == 200 && header(&forwarded, "remote-email") == odd.email,
        "forward-auth: {}",
        forwarded.status()
    );
    Ok(checked + 1)
}

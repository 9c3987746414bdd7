//! The reads of one allowed gate decision without HTTP or the server, on the gate's
//! database, to show where a decision's time goes and what fewer statements would give:
//!
//! - `today`: the five statements a decision runs now (the session layer's record, the
//!   applications, the session with its holder, the invitation's applications, the
//!   session's reached applications), each through sqlx on a pool like the server's read
//!   pool (four connections), `concurrency` decisions at a time;
//! - `fused`: the same answers in two statements, the record and then one statement
//!   for the rest (the applications on the URL's host, the session, its holder, whether
//!   the invitation opens the application and whether the session reached it before);
//! - `raw`: today's five statements through rusqlite, one connection, one decision
//!   after another (SQLite's own cost, no async driver).
//!
//! Each decision's answer is checked (the session's holder, and that the invitation opens
//! the wiki), so a statement that stopped finding anything cannot look fast.

use crate::gate::{self, GateSession};
use anyhow::{ensure, Result};
use app::server::db;
use app::server::store::flag::Flag;
use serde_json::{json, Value};
use sqlx::{AnyPool, Row};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `store::session_records::load`.
const RECORD: &str = "SELECT data FROM tower_sessions WHERE id = $1 AND expiry_date > $2";
/// `store::applications::all`.
const APPLICATIONS: &str =
    "SELECT a.id, a.name, a.scheme, a.host, a.port, a.path_prefix FROM applications a ORDER BY a.id";
/// `store::sessions::find`.
const SESSION: &str = "SELECT s.coworker_id, s.link_id, s.expires_at, s.last_seen_at, s.ended_at,
        c.email AS c_email, c.name AS c_name, c.is_admin AS c_is_admin,
        c.created_at AS c_created_at, c.deactivated_at AS c_deactivated_at,
        l.recipient_email AS l_email, l.recipient_name AS l_name,
        l.message AS l_message, l.revoked_at AS l_revoked_at,
        i.email AS i_email, i.name AS i_name
 FROM auth_sessions s
 LEFT JOIN coworkers c ON c.id = s.coworker_id
 LEFT JOIN magic_links l ON l.id = s.link_id
 LEFT JOIN coworkers i ON i.id = l.coworker_id
 WHERE s.id = ?1";
/// `store::applications::link_opens`.
const OPENS: &str = "SELECT 1 FROM link_applications WHERE link_id = ?1 AND application_id = ?2";
/// `store::applications::has_reached`.
const REACHED: &str =
    "SELECT 1 FROM session_applications WHERE session_id = ?1 AND application_id = ?2";
/// Everything after the record in one statement: one row per application on the URL's
/// scheme, host and port (the caller picks the longest matching path prefix), with the
/// session, its holder, and whether the invitation opens and the session reached it.
const FUSED: &str = "SELECT a.id, a.name, a.path_prefix,
        s.coworker_id, s.link_id, s.expires_at, s.last_seen_at, s.ended_at,
        c.email AS c_email, c.name AS c_name, c.is_admin AS c_is_admin,
        c.created_at AS c_created_at, c.deactivated_at AS c_deactivated_at,
        l.recipient_email AS l_email, l.recipient_name AS l_name,
        l.message AS l_message, l.revoked_at AS l_revoked_at,
        i.email AS i_email, i.name AS i_name,
        EXISTS (SELECT 1 FROM link_applications la
                 WHERE la.link_id = s.link_id AND la.application_id = a.id) AS opens,
        EXISTS (SELECT 1 FROM session_applications sa
                 WHERE sa.session_id = s.id AND sa.application_id = a.id) AS reached
 FROM applications a
 LEFT JOIN auth_sessions s ON s.id = ?1
 LEFT JOIN coworkers c ON c.id = s.coworker_id
 LEFT JOIN magic_links l ON l.id = s.link_id
 LEFT JOIN coworkers i ON i.id = l.coworker_id
 WHERE a.scheme = ?2 AND a.host = ?3 AND coalesce(a.port, 0) = ?4";

pub async fn measure(
    path: &Path,
    sessions: &Arc<Vec<GateSession>>,
    decisions: usize,
    concurrency: usize,
) -> Result<Value> {
    let pool = db::connect(
        &format!("sqlite://{}", path.display()),
        Duration::from_secs(5),
        db::Durability::Normal,
    )
    .await?;
    let wiki: i64 = sqlx::query_scalar("SELECT id FROM applications WHERE name = 'Wiki'")
        .fetch_one(&pool)
        .await?;
    let today = through_sqlx(&pool, sessions, decisions, concurrency, wiki, false).await?;
    let fused = through_sqlx(&pool, sessions, decisions, concurrency, wiki, true).await?;
    pool.close().await;
    let raw = {
        let (path, sessions) = (path.to_owned(), sessions.clone());
        tokio::task::spawn_blocking(move || raw(&path, &sessions, decisions, wiki)).await??
    };
    Ok(json!({
        "decisions": decisions,
        "concurrency": concurrency,
        "today_5_statements_through_sqlx_per_second": today,
        "fused_2_statements_through_sqlx_per_second": fused,
        "today_5_statements_raw_sqlite_one_connection_per_second": raw,
    }))
}

async fn through_sqlx(
    pool: &AnyPool,
    sessions: &Arc<Vec<GateSession>>,
    decisions: usize,
    concurrency: usize,
    wiki: i64,
    fused: bool,
) -> Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (pool, sessions, next) = (pool.clone(), sessions.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= decisions {
                        return anyhow::Ok(());
                    }
                    let session = &sessions[gate::spread(i, sessions.len())];
                    let email = if fused {
                        decide_fused(&pool, session).await?
                    } else {
                        decide_today(&pool, session, wiki).await?
                    };
                    ensure!(email == session.email, "a decision found {email}");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok((decisions as f64 / started.elapsed().as_secs_f64()).round())
}

/// The session layer's read of the record, which both ways start with.
async fn load_record(pool: &AnyPool, session: &GateSession) -> Result<()> {
    let record: Option<Vec<u8>> = sqlx::query_scalar(RECORD)
        .bind(&session.record_id)
        .bind(app::server::now())
        .fetch_optional(pool)
        .await?;
    ensure!(record.is_some(), "no session record");
    Ok(())
}

/// Today's reads; answers the invitee's address when the invitation opens the wiki.
async fn decide_today(pool: &AnyPool, session: &GateSession, wiki: i64) -> Result<String> {
    load_record(pool, session).await?;
    let applications = sqlx::query(APPLICATIONS).fetch_all(pool).await?;
    ensure!(applications.len() == 3, "the applications");
    let row = sqlx::query(SESSION)
        .bind(&session.auth_id)
        .fetch_one(pool)
        .await?;
    let opens: Option<i64> = sqlx::query_scalar(OPENS)
        .bind(session.link_id)
        .bind(wiki)
        .fetch_optional(pool)
        .await?;
    let reached: Option<i64> = sqlx::query_scalar(REACHED)
        .bind(&session.auth_id)
        .bind(wiki)
        .fetch_optional(pool)
        .await?;
    ensure!(opens.is_some() && reached.is_some(), "the wiki");
    Ok(row.try_get("l_email")?)
}

async fn decide_fused(pool: &AnyPool, session: &GateSession) -> Result<String> {
    load_record(pool, session).await?;
    let rows = sqlx::query(FUSED)
        .bind(&session.auth_id)
        .bind("http")
        .bind(gate::WIKI.trim_start_matches("http://"))
        .bind(0_i64)
        .fetch_all(pool)
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| anyhow::anyhow!("no application"))?;
    ensure!(
        row.try_get::<Flag, _>("opens")?.0 && row.try_get::<Flag, _>("reached")?.0,
        "the wiki"
    );
    Ok(row.try_get("l_email")?)
}

fn raw(path: &Path, sessions: &[GateSession], decisions: usize, wiki: i64) -> Result<f64> {
    let connection = rusqlite::Connection::open(path)?;
    let now = app::server::now();
    let started = Instant::now();
    for i in 0..decisions {
        let session = &sessions[gate::spread(i, sessions.len())];
        let _record: Vec<u8> = connection
            .prepare_cached(RECORD)?
            .query_row(rusqlite::params![session.record_id, now], |row| row.get(0))?;
        let applications = connection
            .prepare_cached(APPLICATIONS)?
            .query_map([], |row| row.get::<_, i64>(0))?
            .count();
        ensure!(applications == 3, "the applications");
        let email: String = connection
            .prepare_cached(SESSION)?
            .query_row([&session.auth_id], |row| row.get("l_email"))?;
        let opens: i64 = connection
            .prepare_cached(OPENS)?
            .query_row(rusqlite::params![session.link_id, wiki], |row| row.get(0))?;
        let reached: i64 = connection
            .prepare_cached(REACHED)?
            .query_row(rusqlite::params![session.auth_id, wiki], |row| row.get(0))?;
        ensure!(email == session.email && opens == 1 && reached == 1, "raw");
    }
    Ok((decisions as f64 / started.elapsed().as_secs_f64()).round())
}

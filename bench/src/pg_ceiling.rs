//! The raw PostgreSQL ceiling, beside the SQLite one (`seed::ceiling`): the redeem's
//! durable work alone, one conditional UPDATE (mark an unused link used) and one INSERT
//! (its session, whose trigger writes the trail event) per transaction, on the real schema
//! (`migrations/postgres`), driven by `pgbench` with 32 clients on 2 threads and prepared
//! statements. Each client redeems its own links, each once; a link found used fails the
//! client and the run.
//!
//! Measured twice, each on a fresh throwaway cluster (testkit::postgres) on this machine's
//! disk: with PostgreSQL's default durability (fsync on, `synchronous_commit=on`: a commit
//! is flushed to the WAL on disk before it is acknowledged; concurrent commits share
//! flushes), and with `synchronous_commit=off` (acknowledged before the flush; a crash of
//! the server or machine can lose the last moments of commits, never corrupt the data).
//! Never with the tests' `fsync=off`.

use crate::phase::Latencies;
use anyhow::{ensure, Context, Result};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Duration;
use testkit::postgres::Cluster;

const CLIENTS: usize = 32;
const THREADS: usize = 2;
/// The settings shown beside the figures: what decides a commit's cost.
const SHOWN: &[&str] = &[
    "fsync",
    "synchronous_commit",
    "wal_sync_method",
    "full_page_writes",
    "wal_level",
    "shared_buffers",
    "max_wal_size",
    "commit_delay",
    "max_connections",
];

/// `(name in the report, settings added to the defaults)`.
const RUNS: &[(&str, &[(&str, &str)])] = &[("on", &[]), ("off", &[("synchronous_commit", "off")])];

/// One pgbench run of each durability, at least `transactions` in all (rounded up to a
/// whole number per client). Answers `{per_second, latency_ms, settings}`, each keyed by
/// `on` and `off` (`synchronous_commit`); `settings` also holds pgbench's.
pub async fn ceiling(work: &Path, transactions: usize) -> Result<Value> {
    let per_client = transactions.div_ceil(CLIENTS).max(1);
    let (mut per_second, mut latency, mut settings) = (Map::new(), Map::new(), Map::new());
    for (name, extra) in RUNS {
        let run = measure(&work.join(format!("pgbench-{name}")), extra, per_client)
            .await
            .with_context(|| format!("the PostgreSQL ceiling, synchronous_commit={name}"))?;
        eprintln!(
            "PostgreSQL ceiling ({name}): {} transactions, {:.0}/s; settings {}",
            run.transactions, run.per_second, run.settings
        );
        per_second.insert((*name).into(), json!(run.per_second.round()));
        latency.insert((*name).into(), run.latency);
        settings.insert((*name).into(), run.settings);
    }
    settings.insert(
        "pgbench".into(),
        json!({
            "clients": CLIENTS,
            "threads": THREADS,
            "transactions_per_client": per_client,
            "query_mode": "prepared",
        }),
    );
    Ok(json!({
        "per_second": per_second,
        "latency_ms": latency,
        "settings": settings,
    }))
}

struct Run {
    transactions: usize,
    per_second: f64,
    latency: Value,
    settings: Value,
}

async fn measure(dir: &Path, extra: &[(&str, &str)], per_client: usize) -> Result<Run> {
    std::fs::create_dir_all(dir)?;
    let cluster = Cluster::start_with(extra)?;
    cluster.create_database("ceiling")?;
    let url = cluster.url("ceiling");
    let pool = app::server::postgres::connect(&url, 2, Duration::from_secs(10)).await?;
    let links = CLIENTS * per_client;
    // Link n (1..=links) has the token hash sha256(n as 8 bytes), which the script
    // computes again: client c redeems links c·per_client + 1 … (c+1)·per_client.
    sqlx::raw_sql(&format!(
        "INSERT INTO coworkers (email, created_at) VALUES ('bench@example.com', 0);
         INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id, created_at, expires_at, delivery)
         SELECT sha256(int8send(n)), 'invite', 'load-' || n || '@example.com', 1,
                extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint + 86400, 'sent'
           FROM generate_series(1, {links}) n;"
    ))
    .execute(&pool)
    .await
    .context("seeding the links")?;
    // Statistics for the planner, and the seeding's writes out of the WAL's way, before
    // the clock starts. (Each its own statement: neither runs inside a transaction.)
    for statement in ["VACUUM ANALYZE", "CHECKPOINT"] {
        sqlx::raw_sql(statement).execute(&pool).await?;
    }
    let settings = shown_settings(&pool).await?;

    let script = dir.join("redeem.sql");
    std::fs::write(
        &script,
        format!(
            "\\set k :k + 1
\\set n :client_id * {per_client} + :k
BEGIN;
UPDATE magic_links SET redeemed_at = extract(epoch FROM now())::bigint
 WHERE token_hash = sha256(int8send(:n)) AND redeemed_at IS NULL AND revoked_at IS NULL
   AND expires_at > extract(epoch FROM now())::bigint
RETURNING id AS link_id, redeemed_at AS at \\gset
INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at)
VALUES ('ceiling-' || lpad(:n::text, 64, '0'), :link_id, :at, :at, :at::bigint + 86400);
END;
"
        ),
    )?;
    let log_prefix = dir.join("log");
    let output = tokio::process::Command::new(cluster.program("pgbench"))
        .args(["-n", "-M", "prepared", "-D", "k=0"])
        .args(["-c", &CLIENTS.to_string(), "-j", &THREADS.to_string()])
        .args(["-t", &per_client.to_string()])
        .arg("-f")
        .arg(&script)
        .arg("-l")
        .arg(format!("--log-prefix={}", log_prefix.display()))
        .args(["-h", "127.0.0.1", "-p", &cluster.port().to_string()])
        .args(["-U", testkit::postgres::USER, "ceiling"])
        .output()
        .await
        .context("running pgbench")?;
    let report = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "pgbench failed ({}): {}\n{report}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let links = links as i64;
    ensure!(
        report.contains(&format!("actually processed: {links}/{links}")),
        "pgbench did not process every transaction:\n{report}"
    );
    let per_second: f64 = report
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench's report:\n{report}"))?;

    // Every link used once, every session stored, every trail event written.
    let (used, sessions, events): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM magic_links WHERE redeemed_at IS NOT NULL),
                (SELECT count(*) FROM auth_sessions),
                (SELECT count(*) FROM link_events WHERE kind = 'redeemed')",
    )
    .fetch_one(&pool)
    .await?;
    ensure!(
        (used, sessions, events) == (links, links, links),
        "after {links} redeems: {used} links used, {sessions} sessions, {events} events"
    );
    pool.close().await;
    drop(cluster);

    let latencies = transaction_latencies(dir)?;
    ensure!(
        latencies.len() == links as usize,
        "pgbench logged {} transactions",
        latencies.len()
    );
    let average = latencies.iter().sum::<f64>() / latencies.len() as f64;
    let latencies = Latencies::from_durations(
        latencies
            .into_iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
    );
    let mut latency = latencies.summary();
    latency["average"] = json!((average * 100.0).round() / 100.0);
    Ok(Run {
        transactions: links as usize,
        per_second,
        latency,
        settings,
    })
}

async fn shown_settings(pool: &sqlx::PgPool) -> Result<Value> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name::text, current_setting(name) FROM pg_settings
          WHERE name = ANY($1) ORDER BY name",
    )
    .bind(SHOWN)
    .fetch_all(pool)
    .await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool)
        .await?;
    let mut shown: Map<String, Value> = rows.into_iter().map(|(k, v)| (k, json!(v))).collect();
    shown.insert("server_version".into(), json!(version));
    Ok(Value::Object(shown))
}

/// Each transaction's latency in milliseconds, from pgbench's per-transaction logs (`-l`:
/// one file per thread; the third field is the latency in microseconds).
fn transaction_latencies(dir: &Path) -> Result<Vec<f64>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("log."));
        if !is_log {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let micros: f64 = line
                .split_whitespace()
                .nth(2)
                .and_then(|us| us.parse().ok())
                .with_context(|| format!("a line of {}: {line}", path.display()))?;
            latencies.push(micros / 1000.0);
        }
    }
    Ok(latencies)
}

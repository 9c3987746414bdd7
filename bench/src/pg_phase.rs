//! Latchkey on PostgreSQL: the redeem at C=32, the peek and the issue (to the outbox,
//! C=32) and the gate's decisions (C=32, every session four times), with one instance
//! and with three sharing the database (the load spread over them in turn), and the links list with many links (one instance), on a throwaway
//! cluster with PostgreSQL's default, durable settings (testkit; never the tests'
//! `fsync=off`), a fresh database for each, beside the raw PostgreSQL ceiling the same
//! run measures (`pg_ceiling`).

use crate::load;
use crate::phase::Latencies;
use crate::seed;
use crate::server::Server;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::path::Path;
use testkit::postgres::Cluster;

/// How many instances serve each measurement.
const FLEETS: [usize; 2] = [1, 3];
const CONCURRENCY: usize = 32;

/// The settings that differ from PostgreSQL's defaults: room for three instances'
/// pools (each opens up to 32 connections).
const SETTINGS: &[(&str, &str)] = &[("max_connections", "200")];

/// How much of each one run does.
pub struct PgSizes {
    pub redeems: usize,
    pub peeks: usize,
    pub issues: usize,
    pub list_links: usize,
    pub list_requests: usize,
}

pub async fn measure(
    server_bin: &Path,
    site: &Path,
    work: &Path,
    sizes: &PgSizes,
) -> Result<Value> {
    let (redeems, peeks) = (sizes.redeems, sizes.peeks);
    let cluster = Cluster::start_with(SETTINGS)?;
    let mut out = serde_json::Map::new();
    for instances in FLEETS {
        let name = format!("bench{instances}");
        cluster.create_database(&name)?;
        let url = cluster.url(&name);
        let seeded = seed::prepare(&url, redeems + peeks).await?;
        // Every invitation opens the wiki, for the gate's decisions below.
        seed::open_wiki_postgres(&url).await?;
        let mut servers = Vec::new();
        for i in 0..instances {
            let dir = work.join(format!("pg-{instances}-{i}"));
            std::fs::create_dir_all(&dir)?;
            servers.push(Server::start(server_bin, site, &dir, &url, None).await?);
        }
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        let tokens = &seeded.tokens[..redeems];
        let phase = load::redeem(&bases, tokens, CONCURRENCY).await?;
        let works = load::sessions_that_work(&bases[0], &phase.cookies).await?;
        if phase.ok != tokens.len() || works != phase.ok {
            bail!(
                "PostgreSQL redeem with {instances} instances: {} of {} succeeded, {works} \
                 sessions work",
                phase.ok,
                tokens.len()
            );
        }
        let peek = load::peek(&bases[0], &seeded.tokens[redeems..]).await?;
        // Each session's first decision records that it reached the wiki (a write); the
        // rest only read, as in the steady state.
        let decisions = phase.cookies.len() * 4;
        let gate = load::gate_spread(&bases, &phase.cookies, decisions, CONCURRENCY).await?;
        if gate.ok != decisions {
            bail!(
                "PostgreSQL gate with {instances} instances: {} of {decisions} let through",
                gate.ok
            );
        }
        let propagation = if instances > 1 {
            let trials = (phase.cookies.len() / 4).clamp(5, 200);
            let bound = revoke_to_refusal(&url, &bases[1], &phase.cookies[..trials]).await?;
            json!({ "trials": trials, "latency_ms": bound.summary() })
        } else {
            Value::Null
        };
        let coworker = servers[0].sign_in(&seeded.signin_token).await?;
        let issue = load::issue(&bases, &coworker, sizes.issues, CONCURRENCY, "outbox").await?;
        let list = if instances == 1 && sizes.list_links > 0 {
            seed::grow_postgres(&url, sizes.list_links).await?;
            let first_page = load::list(&bases[0], &coworker, &[], sizes.list_requests).await?;
            let filter = [("status", "pending"), ("q", "guest-1")];
            let requests = (sizes.list_requests / 10).max(5);
            let filtered = load::list(&bases[0], &coworker, &filter, requests).await?;
            json!({
                "links": sizes.list_links,
                "first_page_ms": first_page.summary(),
                "filtered_ms": filtered.summary(),
            })
        } else {
            Value::Null
        };
        let rss: Vec<u64> = servers.iter().map(Server::peak_rss_kb).collect();
        for server in servers {
            server.stop().await?;
        }
        out.insert(
            format!("instances_{instances}"),
            json!({
                "redeem_c32": {
                    "requests": tokens.len(),
                    "per_second": phase.per_second(),
                    "latency_ms": phase.latencies.summary(),
                },
                "peek_latency_ms": peek.summary(),
                "issue_c32": issue.json("outbox"),
                "gate_c32": {
                    "decisions": decisions,
                    "per_second": gate.per_second(),
                    "latency_ms": gate.latencies.summary(),
                },
                "list": list,
                "revoke_to_refusal_at_another_instance": propagation,
                "server_peak_rss_kb": rss,
            }),
        );
    }
    out.insert(
        "settings".into(),
        json!(SETTINGS
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .chain([
                "fsync=on (default)".into(),
                "synchronous_commit=on (default)".into()
            ])
            .collect::<Vec<_>>()),
    );
    Ok(Value::Object(out))
}

/// From a revoke committed by another process (as the command line, or another instance,
/// commits it) to the first refusal at the gate of the instance at `base`, for each of
/// `cookies` in turn: the session is remembered there first, then ended, then asked about
/// back to back until refused.
async fn revoke_to_refusal(url: &str, base: &str, cookies: &[String]) -> Result<Latencies> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await?;
    let http = reqwest::Client::new();
    let ask = |cookie: &str| {
        http.get(format!("{base}/gate/auth-request"))
            .header("x-original-url", format!("{}/page", crate::gate::WIKI))
            .header("cookie", cookie.to_owned())
            .send()
    };
    let mut took = Vec::with_capacity(cookies.len());
    for cookie in cookies {
        let token = cookie
            .split("; ")
            .find_map(|pair| pair.strip_prefix("latchkey_gate="))
            .ok_or_else(|| anyhow::anyhow!("a redeem set no gate cookie"))?;
        let hash = app::server::tokens::PlainToken::parse(token)
            .map_err(|_| anyhow::anyhow!("a gate cookie that is not a token"))?
            .hashed();
        for _ in 0..2 {
            let status = ask(cookie).await?.status();
            anyhow::ensure!(status == 200, "a live session was answered {status}");
        }
        sqlx::query(
            "UPDATE auth_sessions SET ended_at = $1, end_reason = 'link_revoked'
              WHERE gate_hash = $2 AND ended_at IS NULL",
        )
        .bind(app::server::now())
        .bind(hash.as_bytes().to_vec())
        .execute(&pool)
        .await?;
        let committed = std::time::Instant::now();
        loop {
            if ask(cookie).await?.status() != 200 {
                break;
            }
            anyhow::ensure!(
                committed.elapsed() < std::time::Duration::from_secs(5),
                "a revoked session was still let through 5 s after its commit"
            );
        }
        took.push(committed.elapsed());
    }
    pool.close().await;
    Ok(Latencies::from_durations(took.into_iter()))
}

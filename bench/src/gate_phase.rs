//! The gate's part of a run: gate decisions straight at the release server, then nginx
//! in front of a static page alone, with `auth_request` to `return 204`, and with
//! `auth_request` to Latchkey, in the same run (see bench/README.md, "Gate").

use crate::gate::{self, GateSession};
use crate::load;
use crate::nginx::{self, Nginx};
use crate::phase::Phase;
use crate::server::{sqlite_url, Server};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// How much of the gate one run measures.
pub struct GateSizes {
    /// Live invitee sessions in the database.
    pub sessions: usize,
    /// Timed decisions straight at the server.
    pub decisions: usize,
    /// Timed requests through nginx for each of its three locations.
    pub through_nginx: usize,
    pub concurrency: usize,
    /// Whether a missing nginx fails the run (it skips the nginx part otherwise).
    pub nginx_required: bool,
}

/// nginx's three locations are measured in turn, this many times each, and each one's
/// slices summed: a burst of load from elsewhere on the machine then falls on all three
/// rather than on one.
const ROUNDS: usize = 3;

pub async fn measure(
    server_bin: &Path,
    site: &Path,
    work: &Path,
    sizes: &GateSizes,
    profile: Option<&Path>,
) -> Result<Value> {
    let db = work.join("gate.db");
    let seeded = gate::seed(&db, sizes.sessions).await?;
    let server = Server::start(server_bin, site, work, &sqlite_url(&db), None).await?;
    let answers_checked = gate::check_answers(&server.base, &seeded).await?;
    let sessions = Arc::new(seeded.sessions);

    // Each session's first decision reads it from the database (and remembers it); the
    // memory's size is what the server grew by meanwhile. Every later decision is
    // answered from memory.
    let rss_before = server.rss_kb();
    let first_visits =
        load::gate(&server.base, &sessions, sessions.len(), sizes.concurrency).await?;
    let rss_after = server.rss_kb();
    if first_visits.ok != sessions.len() {
        bail!(
            "gate first visits: {} of {} let the right invitee through",
            first_visits.ok,
            sessions.len()
        );
    }
    let bytes_per_session =
        (rss_after.saturating_sub(rss_before) * 1024) as f64 / sessions.len().max(1) as f64;
    let seen = gate::restamp(&db)?;
    let recording = server.profile(profile, "gate")?;
    let decisions = load::gate(&server.base, &sessions, sizes.decisions, sizes.concurrency).await?;
    drop(recording);
    if decisions.ok != sizes.decisions {
        bail!(
            "gate decisions: {} of {} let the right invitee through",
            decisions.ok,
            sizes.decisions
        );
    }
    let mut touched = gate::touched_since(&db, seen)?;

    let nginx = match nginx::binary() {
        Some(bin) => {
            let (measured, uses) =
                through_nginx(&bin, work, &db, &server, &sessions, sizes, profile).await?;
            touched += uses;
            measured
        }
        None if sizes.nginx_required => bail!(
            "nginx is not installed: the gate benchmark runs it in front of a static page. \
             Install it (Debian: apt-get install -y nginx; `make deps-system` will) and run again."
        ),
        None => {
            eprintln!(
                "latchkey-bench: nginx is not installed; the nginx part of the gate was NOT run"
            );
            json!("nginx not installed")
        }
    };
    let rss_mb = server.peak_rss_kb() as f64 / 1024.0;
    server.stop().await?;
    let statements = statements_per_decision(server_bin, site, work, &db, &sessions, sizes).await?;

    Ok(json!({
        "sessions": sizes.sessions,
        "answers_checked": answers_checked,
        "decisions": phase_json(&decisions, sizes.concurrency),
        // Each session's first decision, read from the database.
        "first_visits": phase_json(&first_visits, sizes.concurrency),
        "server_rss_mb_before_and_after_first_visits": [rss_before as f64 / 1024.0, rss_after as f64 / 1024.0],
        "bytes_per_remembered_session": bytes_per_session.round(),
        "nginx": nginx,
        // Each a write on a decision's path; the phases measure decisions that only read.
        "session_uses_recorded_during_phases": touched,
        "sql_statements_per_decision": statements,
        "server_peak_rss_mb": rss_mb,
    }))
}

/// nginx's three locations; answers what it measured and how many session uses the
/// server recorded meanwhile.
async fn through_nginx(
    bin: &Path,
    work: &Path,
    db: &Path,
    server: &Server,
    sessions: &Arc<Vec<GateSession>>,
    sizes: &GateSizes,
    profile: Option<&Path>,
) -> Result<(Value, i64)> {
    let upstream = server.base.trim_start_matches("http://");
    let nginx = Nginx::start(bin, &work.join("nginx"), upstream).await?;
    // The last is the first again through reqwest's pooled client (`load::drive`), to
    // show what the lean driver the others use is for.
    let locations = [
        ("plain", nginx::PLAIN, None),
        ("ceiling", nginx::CEILING, None),
        ("gated", nginx::GATED, Some(sessions)),
        ("plain, through reqwest", nginx::PLAIN, None),
    ];
    let mut phases: Vec<Phase> = locations.iter().map(|_| Phase::default()).collect();
    let per_slice = (sizes.through_nginx / ROUNDS).max(1);
    let mut touched = 0;
    for round in 0..ROUNDS {
        // Each round well within the minute after which a session's use is recorded.
        let seen = gate::restamp(db)?;
        for ((name, path, sessions), phase) in locations.iter().zip(&mut phases) {
            let recording = if round == 0 && *name == "gated" {
                server.profile(profile, "gate-behind-nginx")?
            } else {
                None
            };
            let slice = if name.ends_with("reqwest") {
                load::through_nginx_reqwest(
                    &nginx.base,
                    path,
                    nginx.page_len,
                    per_slice,
                    sizes.concurrency,
                )
                .await?
            } else {
                load::through_nginx(
                    &nginx.base,
                    path,
                    nginx.page_len,
                    *sessions,
                    per_slice,
                    sizes.concurrency,
                )
                .await?
            };
            drop(recording);
            if slice.ok != slice.requests {
                bail!(
                    "nginx, {name}: {} of {} requests got the page{}\nnginx's log: {}",
                    slice.ok,
                    slice.requests,
                    if sessions.is_some() {
                        " with the invitee's identity"
                    } else {
                        ""
                    },
                    nginx.log()
                );
            }
            phase.absorb(slice);
        }
        touched += gate::touched_since(db, seen)?;
    }
    let page_bytes = nginx.page_len;
    nginx.stop()?;
    let [plain, ceiling, gated, plain_reqwest] = [&phases[0], &phases[1], &phases[2], &phases[3]];
    let measured = json!({
        "page_bytes": page_bytes,
        "worker_processes": 1,
        "rounds": ROUNDS,
        "plain": phase_json(plain, sizes.concurrency),
        "auth_request_204": phase_json(ceiling, sizes.concurrency),
        "auth_request_latchkey": phase_json(gated, sizes.concurrency),
        "plain_through_reqwest": phase_json(plain_reqwest, sizes.concurrency),
        "latchkey_share_of_auth_request_ceiling": share(gated, ceiling),
        "auth_request_ceiling_share_of_plain": share(ceiling, plain),
    });
    Ok((measured, touched))
}

fn share(part: &Phase, whole: &Phase) -> f64 {
    let whole = whole.per_second();
    if whole > 0.0 {
        part.per_second() / whole
    } else {
        0.0
    }
}

fn phase_json(phase: &Phase, concurrency: usize) -> Value {
    json!({
        "concurrency": concurrency,
        "requests": phase.requests,
        "ok": phase.ok,
        "per_second": phase.per_second(),
        "latency_ms": phase.latencies.summary(),
    })
}

/// The SQL statements one allowed decision runs, counted from sqlx's own log of every
/// statement (`sqlx::query` at debug) on a server started for this alone, untimed: the
/// total per decision and each statement's share, by sqlx's summary of it.
async fn statements_per_decision(
    server_bin: &Path,
    site: &Path,
    work: &Path,
    db: &Path,
    sessions: &Arc<Vec<GateSession>>,
    sizes: &GateSizes,
) -> Result<Value> {
    let log = work.join("statements.log");
    let server = Server::start_logging(
        server_bin,
        site,
        work,
        &sqlite_url(db),
        None,
        "warn,sqlx::query=debug",
        &log,
    )
    .await?;
    let decisions = (sizes.decisions / 1000).clamp(20, 200);
    // The same sessions once untimed: they are remembered, and the count is of decisions
    // answered from memory (at C=1 each reads the change log once; under load decisions
    // share that read).
    load::gate(&server.base, sessions, decisions, 4).await?;
    let before = std::fs::read_to_string(&log)?.len();
    let phase = load::gate(&server.base, sessions, decisions, 1).await?;
    let text = std::fs::read_to_string(&log)?;
    server.stop().await?;
    if phase.ok != decisions {
        bail!(
            "counting statements: {} of {decisions} decisions let the invitee through",
            phase.ok
        );
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for line in text[before..].lines().filter(|l| l.contains("sqlx::query")) {
        let summary = line
            .split_once("summary=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map_or("?", |(summary, _)| summary);
        *counts.entry(summary).or_default() += 1;
    }
    let per_decision = |count: usize| (count as f64 / decisions as f64 * 100.0).round() / 100.0;
    Ok(json!({
        "decisions": decisions,
        "total": per_decision(counts.values().sum()),
        "by_statement": counts
            .into_iter()
            .map(|(summary, count)| (summary.to_owned(), json!(per_decision(count))))
            .collect::<serde_json::Map<_, _>>(),
    }))
}

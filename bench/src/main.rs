//! `latchkey-bench`: starts a `latchkey` server on loopback with a fresh SQLite file and
//! measures it in one run (see bench/README.md):
//!
//! - redeem throughput and latency at concurrency 1, 8, 32 and 128, every token redeemed
//!   once, a success counted only when the session cookie is set and then works;
//! - issue throughput with the file outbox, and with SMTP to a catcher on loopback;
//! - peek latency, and the links list with 100,000 and 1,000,000 links;
//! - the raw SQLite ceiling for the same durable work (mark used + insert session), and
//!   the raw PostgreSQL one beside it (pgbench on a throwaway cluster, `pg_ceiling`);
//! - the gate: decisions per second at C=32 over 100,000 live sessions, and nginx in
//!   front of a static page alone, with `auth_request` to `return 204`, and with
//!   `auth_request` to Latchkey;
//! - the invitee's first minute: in Chromium on an emulated slow 4G network, cold, when
//!   Continue works on a magic link's page and how many bytes arrived by then;
//! - the server's peak RSS, and the front end's sizes raw, gzip and brotli.
//!
//! `--smoke` runs the same code with tiny counts and fails on any wrong answer; `make
//! test` runs it so the benchmark cannot rot. The load generator shares the machine with
//! the server, as it would on a small deployment.

mod first_minute;
mod gate;
mod gate_phase;
mod load;
mod nginx;
mod pg_ceiling;
mod pg_phase;
mod phase;
mod raw;
mod report;
mod seed;
mod server;

use anyhow::{bail, Context, Result};
use gate_phase::GateSizes;
use phase::{Latencies, Phase};
use serde_json::{json, Value};
use server::{sqlite_url, Server};
use std::path::PathBuf;

/// How much of everything one run does.
struct Sizes {
    redeems_per_level: usize,
    levels: &'static [usize],
    issues: usize,
    issue_concurrency: usize,
    peeks: usize,
    list_sizes: &'static [usize],
    list_requests: usize,
    ceiling_transactions: usize,
    gate: GateSizes,
    /// First visits of a magic link in Chromium on a slow network (the median is reported).
    first_visits: usize,
}

impl Sizes {
    /// What the PostgreSQL phase does: as much as the SQLite phases, and the list with the
    /// most links they list.
    fn postgres(&self) -> pg_phase::PgSizes {
        pg_phase::PgSizes {
            redeems: self.redeems_per_level,
            peeks: self.peeks,
            issues: self.issues,
            list_links: self.list_sizes.iter().copied().max().unwrap_or(0),
            list_requests: self.list_requests,
        }
    }
}

const FULL: Sizes = Sizes {
    redeems_per_level: 5_000,
    levels: &[1, 8, 32, 128],
    issues: 4_000,
    issue_concurrency: 32,
    peeks: 2_000,
    list_sizes: &[100_000, 1_000_000],
    list_requests: 200,
    ceiling_transactions: 5_000,
    gate: GateSizes {
        sessions: 100_000,
        // Each session once, well within the minute after which the server records a
        // session's use again (a write): the phase measures decisions that only read.
        decisions: 100_000,
        through_nginx: 90_000,
        concurrency: 32,
        nginx_required: true,
    },
    first_visits: 5,
};

/// `--quick`: the two phases the targets are hardest on, nothing written to results.
const QUICK: Sizes = Sizes {
    redeems_per_level: 5_000,
    levels: &[32],
    issues: 4_000,
    issue_concurrency: 32,
    peeks: 200,
    list_sizes: &[],
    list_requests: 0,
    ceiling_transactions: 0,
    gate: FULL.gate,
    first_visits: 0,
};

const SMOKE: Sizes = Sizes {
    redeems_per_level: 40,
    levels: &[1, 8, 32, 128],
    issues: 40,
    issue_concurrency: 8,
    peeks: 40,
    list_sizes: &[2_000],
    list_requests: 10,
    ceiling_transactions: 50,
    gate: GateSizes {
        sessions: 50,
        decisions: 200,
        through_nginx: 60,
        concurrency: 8,
        // `make test` runs before `make deps-system` installs nginx everywhere.
        nginx_required: false,
    },
    first_visits: 1,
};

struct Args {
    smoke: bool,
    /// `--quick redeem|issue|both|gate|first-minute|pg-ceiling|postgres`: only the redeem
    /// (C=32) and/or outbox issue phase, or only the gate, or only the invitee's first
    /// minute, or only the raw PostgreSQL ceiling (no server needed), or only Latchkey on
    /// PostgreSQL (one and three instances) with that ceiling, for a quick look (or a
    /// profile) while tuning; nothing is written.
    quick: Option<String>,
    /// `--profile DIR`: record each timed phase of the server with `perf record -g`.
    profile: Option<PathBuf>,
    /// `normal` or `full`: the server's LATCHKEY_SQLITE_SYNCHRONOUS.
    synchronous: String,
    server: PathBuf,
    site: PathBuf,
    out: PathBuf,
}

fn args() -> Result<Args> {
    let mut args = Args {
        smoke: false,
        quick: None,
        profile: None,
        synchronous: "normal".into(),
        server: "target/release/latchkey".into(),
        site: "target/site".into(),
        out: "bench/results".into(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--smoke" => args.smoke = true,
            "--quick" => {
                args.quick = Some(
                    given
                        .next()
                        .filter(|v| {
                            ["redeem", "issue", "both", "gate", "first-minute", "pg-ceiling", "postgres"]
                                .contains(&v.as_str())
                        })
                        .context(
                            "--quick needs redeem, issue, both, gate, first-minute, pg-ceiling or postgres",
                        )?,
                );
            }
            "--synchronous" => {
                args.synchronous = given
                    .next()
                    .filter(|v| v == "normal" || v == "full")
                    .context("--synchronous needs normal or full")?;
            }
            "--profile" => {
                args.profile = Some(given.next().context("--profile needs a directory")?.into());
            }
            "--server" => args.server = given.next().context("--server needs a path")?.into(),
            "--site" => args.site = given.next().context("--site needs a path")?.into(),
            "--out" => args.out = given.next().context("--out needs a directory")?.into(),
            other => bail!(
                "unknown argument {other}\nusage: latchkey-bench [--smoke | --quick redeem|issue|both|gate|first-minute|pg-ceiling|postgres] [--profile DIR] [--synchronous normal|full] [--server BIN] [--site DIR] [--out DIR]"
            ),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    // Every server this run starts inherits it.
    std::env::set_var("LATCHKEY_SQLITE_SYNCHRONOUS", &args.synchronous);
    let sizes = match (args.smoke, args.quick.is_some()) {
        (true, _) => &SMOKE,
        (false, true) => &QUICK,
        (false, false) => &FULL,
    };
    let work = tempdir()?;
    let result = run(&args, sizes, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    let report = result?;

    let text = report::table(&report);
    println!("{text}");
    if args.quick.is_some() {
        return Ok(());
    }
    std::fs::create_dir_all(&args.out)?;
    let name = if args.smoke {
        "smoke.json".to_owned()
    } else {
        format!("{}.json", report["date"].as_str().unwrap_or("run"))
    };
    let path = args.out.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("written to {}", path.display());
    Ok(())
}

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn run(args: &Args, sizes: &Sizes, work: &std::path::Path) -> Result<Value> {
    if args.quick.as_deref() == Some("gate") {
        let gate = measure_gate(args, sizes, work).await?;
        return Ok(json!({
            "date": report::today(),
            "mode": "quick",
            "machine": report::machine(),
            "durability": format!("WAL, synchronous={}", args.synchronous.to_uppercase()),
            "gate": gate,
        }));
    }
    if args.quick.as_deref() == Some("pg-ceiling") {
        // The full run's size (the smoke run's with --smoke): the ceiling alone.
        let transactions = if args.smoke {
            sizes.ceiling_transactions
        } else {
            FULL.ceiling_transactions
        };
        let postgres = pg_ceiling::ceiling(work, transactions).await?;
        return Ok(json!({
            "date": report::today(),
            "mode": "quick",
            "machine": report::machine(),
            "durability": "PostgreSQL: see postgres_ceiling_settings",
            "postgres_ceiling_per_second": postgres["per_second"],
            "postgres_ceiling_latency_ms": postgres["latency_ms"],
            "postgres_ceiling_settings": postgres["settings"],
        }));
    }
    if args.quick.as_deref() == Some("postgres") {
        // The full run's sizes (the smoke run's with --smoke): this part alone.
        let pg_sizes = if args.smoke { &SMOKE } else { &FULL };
        let postgres =
            pg_phase::measure(&args.server, &args.site, work, &pg_sizes.postgres()).await?;
        let ceiling = pg_ceiling::ceiling(work, pg_sizes.ceiling_transactions).await?;
        return Ok(json!({
            "date": report::today(),
            "mode": "quick",
            "machine": report::machine(),
            "durability": "PostgreSQL: see postgres_ceiling_settings and postgres.settings",
            "postgres": postgres,
            "postgres_ceiling_per_second": ceiling["per_second"],
            "postgres_ceiling_latency_ms": ceiling["latency_ms"],
            "postgres_ceiling_settings": ceiling["settings"],
        }));
    }
    let db_path = work.join("latchkey.db");
    if args.quick.as_deref() == Some("first-minute") {
        ::server::assets::precompress(&args.site.join("pkg"))?;
        let seeded = seed::prepare(&sqlite_url(&db_path), FULL.first_visits).await?;
        let server =
            Server::start(&args.server, &args.site, work, &sqlite_url(&db_path), None).await?;
        let first_minute = first_minute::measure(&server.base, &seeded.tokens);
        server.stop().await?;
        return Ok(json!({
            "date": report::today(),
            "mode": "quick",
            "machine": report::machine(),
            "durability": format!("WAL, synchronous={}", args.synchronous.to_uppercase()),
            "first_minute": first_minute?,
        }));
    }
    let redeem_total = sizes.redeems_per_level * sizes.levels.len();

    // The front end compressed as `make build-release` leaves it, so no server spends the
    // measured phases compressing it. (The smoke run's debug WASM is never compressed.)
    if !args.smoke {
        ::server::assets::precompress(&args.site.join("pkg"))?;
    }
    // Links issued beforehand, without mail: straight into the database.
    let seeded = seed::prepare(&sqlite_url(&db_path), redeem_total + sizes.first_visits).await?;
    // Each server's peak RSS, by what it was doing.
    let mut rss: Vec<(String, u64)> = Vec::new();

    // --- redeem, peek, issue with the outbox ---------------------------------------
    let server = Server::start(&args.server, &args.site, work, &sqlite_url(&db_path), None).await?;
    let coworker = server.sign_in(&seeded.signin_token).await?;

    let quick = args.quick.as_deref();
    let (do_redeem, do_issue) = (quick != Some("issue"), quick != Some("redeem"));
    let mut redeem = Vec::new();
    let mut tokens = seeded.tokens.iter();
    for &concurrency in sizes.levels.iter().filter(|_| do_redeem) {
        let batch: Vec<String> = tokens
            .by_ref()
            .take(sizes.redeems_per_level)
            .cloned()
            .collect();
        let profile = server.profile(args.profile.as_deref(), "redeem")?;
        let phase = load::redeem(std::slice::from_ref(&server.base), &batch, concurrency).await?;
        drop(profile);
        let works = load::sessions_that_work(&server.base, &phase.cookies).await?;
        if phase.ok != batch.len() || works != phase.ok {
            bail!(
                "redeem at C={concurrency}: {} of {} succeeded, {works} sessions work",
                phase.ok,
                batch.len()
            );
        }
        redeem.push(json!({
            "concurrency": concurrency,
            "requests": batch.len(),
            "ok": phase.ok,
            "sessions_that_work": works,
            "per_second": phase.per_second(),
            "latency_ms": phase.latencies.summary(),
        }));
    }

    let peek_tokens: Vec<String> = seeded.tokens.iter().take(sizes.peeks).cloned().collect();
    let peek = load::peek(&server.base, &peek_tokens).await?;

    // The invitee's first minute, on links no phase has touched.
    let first_minute = if sizes.first_visits == 0 {
        json!({})
    } else {
        first_minute::measure(&server.base, &seeded.tokens[redeem_total..])?
    };

    let profile = server.profile(args.profile.as_deref().filter(|_| do_issue), "issue")?;
    let issue_outbox = load::issue(
        std::slice::from_ref(&server.base),
        &coworker,
        if do_issue { sizes.issues } else { 0 },
        sizes.issue_concurrency,
        "outbox",
    )
    .await?;
    drop(profile);
    rss.push((
        "redeem, peek, issue via outbox".into(),
        server.peak_rss_kb(),
    ));
    server.stop().await?;

    // --- issue with SMTP to a catcher on loopback -------------------------------------
    let issue_smtp = if args.quick.is_some() {
        None
    } else {
        let catcher = testkit::catcher::start().await?;
        let server = Server::start(
            &args.server,
            &args.site,
            work,
            &sqlite_url(&db_path),
            Some(format!("smtp://127.0.0.1:{}", catcher.port)),
        )
        .await?;
        let phase = load::issue(
            std::slice::from_ref(&server.base),
            &coworker,
            sizes.issues,
            sizes.issue_concurrency,
            "smtp",
        )
        .await?;
        let delivered = catcher.delivered();
        if delivered < sizes.issues {
            bail!("the catcher got {delivered} of {} mails", sizes.issues);
        }
        rss.push(("issue via smtp".into(), server.peak_rss_kb()));
        server.stop().await?;
        Some(phase)
    };

    // --- the gate, on a database of its own ---------------------------------------------
    let gate = if args.quick.is_some() {
        json!({})
    } else {
        measure_gate(args, sizes, work).await?
    };
    if let Some(mb) = gate["server_peak_rss_mb"].as_f64() {
        rss.push(("gate".into(), (mb * 1024.0) as u64));
    }

    // --- the links list with many links -------------------------------------------------
    let mut list = Vec::new();
    for &links in sizes.list_sizes {
        seed::grow_to(&db_path, links).await?;
        let server =
            Server::start(&args.server, &args.site, work, &sqlite_url(&db_path), None).await?;
        let first_page = load::list(&server.base, &coworker, &[], sizes.list_requests).await?;
        // A rare state (pending) and a common one (expired), each with a substring
        // that matches a ninth of all links.
        let mut searched = Vec::new();
        for status in ["pending", "expired"] {
            let filter = [("status", status), ("q", "guest-1")];
            let requests = (sizes.list_requests / 10).max(5);
            searched.push(load::list(&server.base, &coworker, &filter, requests).await?);
        }
        let [filtered, common_state] =
            <[_; 2]>::try_from(searched).map_err(|_| anyhow::anyhow!("two searches"))?;
        rss.push((format!("list_links, {links} links"), server.peak_rss_kb()));
        server.stop().await?;
        list.push(json!({
            "links": links,
            "first_page_ms": first_page.summary(),
            "filtered_ms": filtered.summary(),
            "common_state_ms": common_state.summary(),
        }));
    }

    // --- the raw SQLite and PostgreSQL ceilings, and Latchkey on PostgreSQL ---------------
    let (ceiling, postgres, on_postgres) = if args.quick.is_some() {
        (json!({}), json!({}), json!({}))
    } else {
        (
            seed::ceiling(&work.join("ceiling.db"), sizes.ceiling_transactions).await?,
            pg_ceiling::ceiling(work, sizes.ceiling_transactions).await?,
            pg_phase::measure(&args.server, &args.site, work, &sizes.postgres()).await?,
        )
    };
    let c32 = redeem
        .iter()
        .find(|r| r["concurrency"] == 32)
        .and_then(|r| r["per_second"].as_f64())
        .unwrap_or(0.0);

    Ok(json!({
        "date": report::today(),
        "mode": if args.smoke { "smoke" } else if args.quick.is_some() { "quick" } else { "full" },
        "machine": report::machine(),
        "durability": format!("WAL, synchronous={}", args.synchronous.to_uppercase()),
        "redeem": redeem,
        "peek_ms": peek.summary(),
        "issue": std::iter::once(issue_outbox.json("outbox"))
            .chain(issue_smtp.map(|phase| phase.json("smtp")))
            .collect::<Vec<_>>(),
        "list": list,
        "gate": gate,
        "first_minute": first_minute,
        "sqlite_ceiling_per_second": ceiling,
        "postgres": on_postgres,
        "postgres_ceiling_per_second": postgres["per_second"],
        "postgres_ceiling_latency_ms": postgres["latency_ms"],
        "postgres_ceiling_settings": postgres["settings"],
        "redeem_c32_share_of_ceiling": match ceiling[args.synchronous.as_str()].as_f64() {
            Some(ceiling) if ceiling > 0.0 => c32 / ceiling,
            _ => 0.0,
        },
        "server_peak_rss_mb": rss.iter().map(|(_, kb)| *kb).max().unwrap_or(0) as f64 / 1024.0,
        "server_peak_rss_mb_by_phase": rss
            .iter()
            .map(|(phase, kb)| (phase.clone(), json!(*kb as f64 / 1024.0)))
            .collect::<serde_json::Map<_, _>>(),
        "front_end": report::front_end_sizes(&args.site.join("pkg"), if args.smoke { 1 } else { 11 })?,
    }))
}

async fn measure_gate(args: &Args, sizes: &Sizes, work: &std::path::Path) -> Result<Value> {
    gate_phase::measure(
        &args.server,
        &args.site,
        work,
        &sizes.gate,
        args.profile.as_deref(),
    )
    .await
}

impl Phase {
    fn json(&self, via: &str) -> Value {
        json!({
            "via": via,
            "requests": self.requests,
            "ok": self.ok,
            "per_second": self.per_second(),
            "latency_ms": self.latencies.summary(),
        })
    }
}

impl Latencies {
    fn summary(&self) -> Value {
        json!({
            "p50": self.percentile(50.0),
            "p95": self.percentile(95.0),
            "p99": self.percentile(99.0),
            "max": self.percentile(100.0),
        })
    }
}

//! The printed table, the machine it ran on, and the front end's sizes.

use anyhow::{Context, Result};
use serde_json::{json, Value};
use server::assets::compress as assets;
use std::path::Path;

/// UTC date, `YYYY-MM-DD`.
pub fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| (kb / 1024.0 / 1024.0).round());
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "memory_gib": memory_gib,
    })
}

/// Raw, gzip (level 9) and brotli sizes of the built WASM, JS and CSS. Brotli at
/// `quality` 11 is what a precompressed deployment serves; the smoke run uses less.
pub fn front_end_sizes(pkg: &Path, quality: i32) -> Result<Value> {
    let mut sizes = serde_json::Map::new();
    for name in ["latchkey.wasm", "latchkey.js", "latchkey.css"] {
        let path = pkg.join(name);
        let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        sizes.insert(
            name.to_owned(),
            json!({
                "raw": raw.len(),
                "gzip": assets::gzip(&raw)?.len(),
                "brotli": assets::brotli(&raw, quality)?.len(),
            }),
        );
    }
    Ok(Value::Object(sizes))
}

fn f(value: &Value) -> String {
    match value.as_f64() {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

pub fn table(r: &Value) -> String {
    let mut out = String::new();
    let m = &r["machine"];
    out += &format!(
        "latchkey-bench ({}) on {} ({} cores, {} GiB), {}\n\n",
        r["mode"].as_str().unwrap_or(""),
        m["cpu"].as_str().unwrap_or(""),
        m["cores"],
        m["memory_gib"],
        r["durability"].as_str().unwrap_or("")
    );
    if r.get("peek_ms").is_none() {
        // `--quick gate`, `--quick first-minute` or `--quick pg-ceiling`: only that part.
        return out
            + &gate_table(&r["gate"])
            + &first_minute_table(&r["first_minute"])
            + &postgres_table(r)
            + &postgres_share(r);
    }
    out += "| measurement | per second | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|\n";
    for row in r["redeem"].as_array().into_iter().flatten() {
        out += &format!(
            "| redeem, C={} ({} links) | {} | {} | {} | {} |\n",
            row["concurrency"],
            row["requests"],
            f(&row["per_second"]),
            f(&row["latency_ms"]["p50"]),
            f(&row["latency_ms"]["p95"]),
            f(&row["latency_ms"]["p99"]),
        );
    }
    for row in r["issue"].as_array().into_iter().flatten() {
        out += &format!(
            "| issue via {}, C={} | {} | {} | {} | {} |\n",
            row["via"].as_str().unwrap_or(""),
            if r["mode"] == "smoke" { 8 } else { 32 },
            f(&row["per_second"]),
            f(&row["latency_ms"]["p50"]),
            f(&row["latency_ms"]["p95"]),
            f(&row["latency_ms"]["p99"]),
        );
    }
    out += &format!(
        "| peek, C=1 | - | {} | {} | {} |\n",
        f(&r["peek_ms"]["p50"]),
        f(&r["peek_ms"]["p95"]),
        f(&r["peek_ms"]["p99"]),
    );
    for row in r["list"].as_array().into_iter().flatten() {
        for (what, key) in [
            ("first page", "first_page_ms"),
            ("pending + substring", "filtered_ms"),
            ("expired + substring", "common_state_ms"),
        ] {
            out += &format!(
                "| list_links, {}, {} links | - | {} | {} | {} |\n",
                what,
                row["links"],
                f(&row[key]["p50"]),
                f(&row[key]["p95"]),
                f(&row[key]["p99"]),
            );
        }
    }
    let ceiling = &r["sqlite_ceiling_per_second"];
    out += &format!(
        "| raw SQLite (rusqlite): mark used + insert session, synchronous=FULL | {} | | | |\n",
        f(&ceiling["full"])
    );
    out += &format!(
        "| raw SQLite (rusqlite): the same, synchronous=NORMAL | {} | | | |\n",
        f(&ceiling["normal"])
    );
    out += &format!(
        "| the same through sqlx, one batch per transaction, NORMAL | {} | | | |\n",
        f(&ceiling["normal_through_sqlx"])
    );
    out += &postgres_rows(r);
    out += &format!(
        "\nredeem at C=32 is {:.0}% of the raw SQLite ceiling with the server's setting ({}); server peak RSS {:.1} MB\n",
        r["redeem_c32_share_of_ceiling"].as_f64().unwrap_or(0.0) * 100.0,
        r["durability"].as_str().unwrap_or(""),
        r["server_peak_rss_mb"].as_f64().unwrap_or(0.0)
    );
    out += &postgres_share(r);
    if let Some(phases) = r["server_peak_rss_mb_by_phase"].as_object() {
        let each: Vec<String> = phases
            .iter()
            .map(|(phase, mb)| format!("{phase}: {:.1} MB", mb.as_f64().unwrap_or(0.0)))
            .collect();
        out += &format!("(peak RSS of each server: {})\n", each.join("; "));
    }
    out += &gate_table(&r["gate"]);
    out += &first_minute_table(&r["first_minute"]);
    out += "\n| file | raw | gzip | brotli |\n|---|---|---|---|\n";
    if let Some(files) = r["front_end"].as_object() {
        for (name, s) in files {
            out += &format!(
                "| {name} | {} | {} | {} |\n",
                s["raw"], s["gzip"], s["brotli"]
            );
        }
    }
    out
}

/// Latchkey's redeem on PostgreSQL (one instance) as a share of PostgreSQL's own ceiling
/// with the same durability (`synchronous_commit=on`).
pub fn postgres_share(r: &Value) -> String {
    let redeem = r["postgres"]["instances_1"]["redeem_c32"]["per_second"].as_f64();
    let ceiling = r["postgres_ceiling_per_second"]["on"].as_f64();
    match (redeem, ceiling) {
        (Some(redeem), Some(ceiling)) if ceiling > 0.0 => format!(
            "redeem on PostgreSQL at C=32 (one instance) is {:.0}% of PostgreSQL's raw ceiling with its default durability\n",
            redeem / ceiling * 100.0
        ),
        _ => String::new(),
    }
}

/// The raw PostgreSQL ceiling's rows (none when it did not run), under their own header.
fn postgres_table(r: &Value) -> String {
    let rows = postgres_rows(r);
    if rows.is_empty() {
        return rows;
    }
    "| measurement | per second | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|\n".to_owned()
        + &rows
}

fn postgres_rows(r: &Value) -> String {
    let mut out = String::new();
    for (key, what) in [
        ("instances_1", "1 instance"),
        ("instances_3", "3 instances"),
    ] {
        let run = &r["postgres"][key];
        if run.is_null() {
            continue;
        }
        let redeem = &run["redeem_c32"];
        out += &format!(
            "| Latchkey on PostgreSQL, redeem, C=32, {what} ({} links) | {} | {} | {} | {} |\n",
            redeem["requests"],
            f(&redeem["per_second"]),
            f(&redeem["latency_ms"]["p50"]),
            f(&redeem["latency_ms"]["p95"]),
            f(&redeem["latency_ms"]["p99"]),
        );
        out += &format!(
            "| Latchkey on PostgreSQL, peek, C=1, {what} | - | {} | {} | {} |\n",
            f(&run["peek_latency_ms"]["p50"]),
            f(&run["peek_latency_ms"]["p95"]),
            f(&run["peek_latency_ms"]["p99"]),
        );
        let issue = &run["issue_c32"];
        out += &format!(
            "| Latchkey on PostgreSQL, issue via outbox, C=32, {what} | {} | {} | {} | {} |\n",
            f(&issue["per_second"]),
            f(&issue["latency_ms"]["p50"]),
            f(&issue["latency_ms"]["p95"]),
            f(&issue["latency_ms"]["p99"]),
        );
        let gate = &run["gate_c32"];
        out += &format!(
            "| Latchkey on PostgreSQL, gate decisions, C=32, {what} | {} | {} | {} | {} |\n",
            f(&gate["per_second"]),
            f(&gate["latency_ms"]["p50"]),
            f(&gate["latency_ms"]["p95"]),
            f(&gate["latency_ms"]["p99"]),
        );
        let bound = &run["revoke_to_refusal_at_another_instance"];
        if bound.is_object() {
            out += &format!(
                "| Latchkey on PostgreSQL, a revoke committed to the first refusal at another instance's gate ({} trials), {what} | - | {} | {} | {} |\n",
                bound["trials"],
                f(&bound["latency_ms"]["p50"]),
                f(&bound["latency_ms"]["p95"]),
                f(&bound["latency_ms"]["p99"]),
            );
        }
        let list = &run["list"];
        for (page, key) in [
            ("first page", "first_page_ms"),
            ("pending + substring", "filtered_ms"),
        ] {
            if list[key].is_null() {
                continue;
            }
            out += &format!(
                "| Latchkey on PostgreSQL, list_links, {page}, {} links | - | {} | {} | {} |\n",
                list["links"],
                f(&list[key]["p50"]),
                f(&list[key]["p95"]),
                f(&list[key]["p99"]),
            );
        }
    }
    for (key, what) in [("on", "on (default)"), ("off", "off")] {
        let per_second = &r["postgres_ceiling_per_second"][key];
        if per_second.is_null() {
            continue;
        }
        let latency = &r["postgres_ceiling_latency_ms"][key];
        out += &format!(
            "| raw PostgreSQL (pgbench, 32 clients): the same, synchronous_commit={what} | {} | {} | {} | {} |\n",
            f(per_second),
            f(&latency["p50"]),
            f(&latency["p95"]),
            f(&latency["p99"]),
        );
    }
    out
}

/// The invitee's first minute: when Continue works and what arrived by then, beside the
/// targets (1.5 s, 40 KB), and what each file contributed on the first visit.
fn first_minute_table(m: &Value) -> String {
    let Some(network) = m["network"].as_str() else {
        return String::new();
    };
    let kb = |v: &Value| format!("{:.1} KB", v.as_f64().unwrap_or(0.0) / 1024.0);
    let mut out = format!(
        "\n| first visit of a magic link, cold, {network} | median of {} | worst | target |\n|---|---|---|---|\n",
        m["visits"]
    );
    out += &format!(
        "| Continue works (ms after navigation) | {} | {} | 1500 |\n",
        f(&m["continue_ready_ms"]),
        f(&m["continue_ready_ms_max"]),
    );
    out += &format!(
        "| transferred by then | {} | {} | 40.0 KB |\n",
        kb(&m["bytes_before_continue"]),
        kb(&m["bytes_before_continue_max"]),
    );
    out += &format!(
        "| first contentful paint (ms) | {} | | |\n| Continue pressed to signed in (ms) | {} | | |\n",
        f(&m["first_contentful_paint_ms"]),
        f(&m["press_to_signed_in_ms"]),
    );
    let files: Vec<String> = m["resources_before_continue"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {}{}",
                r["path"].as_str().unwrap_or(""),
                r["bytes"],
                if r["whole"] == true { "" } else { " (partial)" }
            )
        })
        .collect();
    out += &format!(
        "(arrived before Continue worked, bytes on the wire: {})\n",
        files.join(", ")
    );
    out
}

/// The gate's rows: decisions straight at the server, then nginx's three locations.
fn gate_table(g: &Value) -> String {
    let Some(decisions) = g.get("decisions") else {
        return String::new();
    };
    let row = |what: String, p: &Value| {
        format!(
            "| {what} | {} | {} | {} | {} |\n",
            f(&p["per_second"]),
            f(&p["latency_ms"]["p50"]),
            f(&p["latency_ms"]["p95"]),
            f(&p["latency_ms"]["p99"]),
        )
    };
    let c = &decisions["concurrency"];
    let mut out =
        String::from("\n| gate | per second | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|\n");
    out += &row(
        format!(
            "gate decisions (/gate/auth-request), C={c}, {} live sessions",
            g["sessions"]
        ),
        decisions,
    );
    if g["first_visits"].is_object() {
        out += &row(
            format!("gate decisions, each session's first (read from the database), C={c}"),
            &g["first_visits"],
        );
    }
    let n = &g["nginx"];
    if let Some(skipped) = n.as_str() {
        out += &format!("| nginx: {skipped} | | | | |\n");
    } else {
        let page = &n["page_bytes"];
        out += &row(
            format!("nginx alone, {page}-byte static page, 1 worker, C={c}"),
            &n["plain"],
        );
        out += &row(
            format!("nginx + auth_request to `return 204`, C={c}"),
            &n["auth_request_204"],
        );
        out += &row(
            format!("nginx + auth_request to Latchkey, C={c}"),
            &n["auth_request_latchkey"],
        );
        out += &row(
            format!("nginx alone, the same page, reqwest's client as the driver, C={c}"),
            &n["plain_through_reqwest"],
        );
        out += &format!(
            "\nnginx with Latchkey's gate keeps {:.0}% of the auth_request ceiling ({:.0}% of nginx alone); {} answers checked; {} session uses recorded during the timed phases; gate server peak RSS {:.1} MB\n",
            n["latchkey_share_of_auth_request_ceiling"].as_f64().unwrap_or(0.0) * 100.0,
            n["auth_request_latchkey"]["per_second"].as_f64().unwrap_or(0.0)
                / n["plain"]["per_second"].as_f64().unwrap_or(1.0).max(1.0)
                * 100.0,
            g["answers_checked"],
            g["session_uses_recorded_during_phases"],
            g["server_peak_rss_mb"].as_f64().unwrap_or(0.0),
        );
    }
    if let Some(bytes) = g["bytes_per_remembered_session"].as_f64() {
        let rss = &g["server_rss_mb_before_and_after_first_visits"];
        out += &format!(
            "The gate's memory: {} sessions took the server from {:.1} to {:.1} MB resident, {:.0} bytes per remembered session\n",
            g["sessions"],
            rss[0].as_f64().unwrap_or(0.0),
            rss[1].as_f64().unwrap_or(0.0),
            bytes,
        );
    }
    let statements = &g["sql_statements_per_decision"];
    if let Some(each) = statements["by_statement"].as_object() {
        let each: Vec<String> = each
            .iter()
            .map(|(summary, n)| format!("{n} × {summary}"))
            .collect();
        out += &format!(
            "SQL statements per allowed decision: {} ({})\n",
            statements["total"],
            each.join("; ")
        );
    }
    out
}

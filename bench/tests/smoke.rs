//! The benchmark's smoke run, inside `cargo test --workspace` so the benchmark cannot rot.
//!
//! It runs `latchkey-bench --smoke` against the debug `latchkey` binary the same cargo
//! invocation built (one build of the server for every test, not a second one with other
//! features) and the front end `make site` wrote to `target/site`. The smoke run fails on
//! any wrong answer, never on speed; this test also checks that its report holds the
//! gate's part (decisions straight at the server and, where nginx is installed, through
//! nginx), the invitee's first minute in Chromium and the raw PostgreSQL ceiling, so none
//! can quietly drop out.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn smoke_run_answers_every_request_correctly() {
    let bench = Path::new(env!("CARGO_BIN_EXE_latchkey-bench"));
    let profile_dir = bench
        .parent()
        .expect("the bench binary sits in a profile directory");
    let server = profile_dir.join(format!("latchkey{}", std::env::consts::EXE_SUFFIX));
    assert!(
        server.is_file(),
        "{} is missing: run `cargo test --workspace` (it builds the server binary) or `make test`",
        server.display()
    );
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let site = workspace.join("target/site");
    assert!(
        site.join("pkg").is_dir(),
        "{} has no front end: run `make site` first",
        site.display()
    );
    let out: PathBuf = profile_dir.join("..").join("bench");

    let status = Command::new(bench)
        .arg("--smoke")
        .arg("--server")
        .arg(&server)
        .arg("--site")
        .arg(&site)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("latchkey-bench starts");
    assert!(status.success(), "the smoke run failed: {status}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("smoke.json")).expect("the smoke run wrote its report"),
    )
    .expect("the report is JSON");
    // The gate's path ran: every kind of answer was checked, and every timed decision let
    // the right invitee through (the run fails otherwise).
    let gate = &report["gate"];
    assert!(
        gate["answers_checked"].as_u64() >= Some(9),
        "the gate's answers were not checked: {gate}"
    );
    assert_eq!(
        gate["decisions"]["ok"], gate["decisions"]["requests"],
        "{gate}"
    );
    assert!(gate["decisions"]["ok"].as_u64() > Some(0), "{gate}");
    // nginx is checked where it is installed (`make deps-system` installs it).
    if gate["nginx"].is_object() {
        for location in ["plain", "auth_request_204", "auth_request_latchkey"] {
            let phase = &gate["nginx"][location];
            assert!(
                phase["ok"].as_u64() > Some(0) && phase["ok"] == phase["requests"],
                "nginx, {location}: {phase}"
            );
        }
    }
    // The invitee's first minute ran in Chromium: Continue worked (the script presses it
    // and fails unless the browser lands signed in) after some bytes had arrived.
    let first = &report["first_minute"];
    assert_eq!(first["visits"], 1, "{first}");
    assert!(first["bytes_before_continue"].as_u64() > Some(0), "{first}");
    assert!(first["continue_ready_ms"].as_f64() > Some(0.0), "{first}");
    // The raw PostgreSQL ceiling ran with both durabilities (it fails unless every link
    // was used once and every session and trail event stored).
    let postgres = &report["postgres_ceiling_per_second"];
    for durability in ["on", "off"] {
        assert!(postgres[durability].as_f64() > Some(0.0), "{postgres}");
    }
    assert_eq!(
        report["postgres_ceiling_settings"]["on"]["fsync"], "on",
        "the ceiling is measured with durable commits"
    );
}

//! The invitee's first minute: Chromium opens magic links over an emulated slow network,
//! cold, and reports when Continue works and what was downloaded by then (see
//! `end2end/bench/first-minute.mjs`, which this runs with Node and the Playwright the
//! end-to-end suite installs).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The script, found from this crate's own directory: the bench runs from the repository.
fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/bench/first-minute.mjs")
}

/// One first visit per token (each a live invitation) against the server at `base`.
pub fn measure(base: &str, tokens: &[String]) -> Result<Value> {
    let mut child = Command::new("node")
        .arg(script())
        .arg(base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting node for the first-minute measurement (make deps-node installs it)")?;
    // Tokens go by standard input, never on a command line other users can list.
    child
        .stdin
        .take()
        .context("the script's standard input")?
        .write_all(tokens.join("\n").as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("the first-minute measurement failed: {}", output.status);
    }
    let report: Value = serde_json::from_slice(&output.stdout)
        .context("the first-minute measurement printed no JSON")?;
    if report["visits"].as_u64() != Some(tokens.len() as u64) {
        bail!("the first-minute measurement lost visits: {report}");
    }
    Ok(report)
}

//! What `make dist` ships beside the binary: the systemd unit, checked by systemd's own
//! tools as shipped, with only the binary's path replaced.

use std::path::Path;
use std::process::Command;

/// `docs/systemd/latchkey.service` with `ExecStart` naming the binary under test.
fn unit_in(dir: &Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/systemd/latchkey.service"),
    )
    .unwrap();
    assert!(shipped.contains("ExecStart=/usr/local/bin/latchkey serve\n"));
    let unit = dir.join("latchkey.service");
    std::fs::write(
        &unit,
        shipped.replace("/usr/local/bin/latchkey", env!("CARGO_BIN_EXE_latchkey")),
    )
    .unwrap();
    unit
}

fn systemd_analyze(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("systemd-analyze").args(args).output() {
        Ok(output) => Some(output),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("systemd-analyze is not installed here: the unit is not checked");
            None
        }
        Err(error) => panic!("running systemd-analyze: {error}"),
    }
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_in(dir.path());
    let Some(output) = systemd_analyze(&["verify", "--man=no", unit.to_str().unwrap()]) else {
        return;
    };
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // An unknown or misspelt setting is only a warning to systemd, and an ignored one.
    assert!(output.status.success() && said.is_empty(), "{said}");
}

#[test]
fn the_systemd_unit_confines_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_in(dir.path());
    // systemd's exposure score, 0 (confined) to 10: above 2.0 fails the command.
    let Some(output) = systemd_analyze(&[
        "security",
        "--offline=true",
        "--threshold=20",
        "--no-pager",
        unit.to_str().unwrap(),
    ]) else {
        return;
    };
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shipped = std::fs::read_to_string(&unit).unwrap();
    for setting in [
        "DynamicUser=yes",
        "StateDirectory=latchkey",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "Restart=on-failure",
        "EnvironmentFile=/etc/latchkey/env",
    ] {
        assert!(shipped.contains(setting), "{setting} missing");
    }
}

//! Operating Latchkey: Prometheus metrics (beside the app or on an address of their
//! own) and JSON log lines, read from the real binary.

use crate::helpers::*;
use crate::process::{call, invite, Server};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

/// A sample of `name` whose labels include every one of `labels`, in Prometheus' text
/// format; `None` when there is none.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (found, label_text) = match series.split_once('{') {
            Some((found, rest)) => (found, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        let have: BTreeMap<&str, &str> = label_text
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key, value.trim_matches('"')))
            .collect();
        (found == name
            && labels
                .iter()
                .all(|(key, value)| have.get(key) == Some(value)))
        .then(|| value.parse().ok())
        .flatten()
    })
}

async fn scrape(url: &str) -> String {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_links_mail_the_gate_and_requests_by_route() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = Server::env(dir.path(), None);
    env.push(("LATCHKEY_METRICS".into(), "true".into()));
    let server = Server::start(env, dir.path().join("log")).await;
    let mut bob = server.coworker("bob@example.com").await;
    let (_, token) = invite(&server.base, &mut bob, "alice@example.com").await;
    for status in [200, 410] {
        let answer = call(
            &server.base,
            &mut Client::default(),
            "redeem_link",
            &[("token", &token)],
        )
        .await;
        assert_eq!(answer.status, status, "{}", answer.body);
    }
    let wrong_code = http()
        .post(format!("{}/code", server.base))
        .form(&[("email", "alice@example.com"), ("code", "2222-2222")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_code.status(), 400);
    // No application is registered: the gate refuses every URL.
    let gate = http()
        .get(format!("{}/gate/auth-request", server.base))
        .header("x-original-url", "http://app.example.com/")
        .send()
        .await
        .unwrap();
    assert_eq!(gate.status(), 403);

    let metrics = scrape(&format!("{}/metrics", server.base)).await;
    let expect = |name: &str, labels: &[(&str, &str)], value: f64| {
        assert_eq!(
            sample(&metrics, name, labels),
            Some(value),
            "{name} {labels:?} in\n{metrics}"
        );
    };
    expect(
        "latchkey_links_issued_total",
        &[("kind", "invitation")],
        1.0,
    );
    // Bob's own sign-in link was made by the CLI, another process.
    assert_eq!(
        sample(
            &metrics,
            "latchkey_links_issued_total",
            &[("kind", "signin")]
        ),
        None
    );
    expect("latchkey_links_redeemed_total", &[("by", "link")], 2.0);
    expect(
        "latchkey_links_refused_total",
        &[("by", "link"), ("reason", "used")],
        1.0,
    );
    expect(
        "latchkey_links_refused_total",
        &[("by", "code"), ("reason", "wrong_code")],
        1.0,
    );
    expect("latchkey_mails_total", &[("outcome", "sent")], 1.0);
    expect(
        "latchkey_gate_decisions_total",
        &[("answer", "forbidden")],
        1.0,
    );
    expect(
        "latchkey_http_requests_total",
        &[("route", "/api/issue_link"), ("status", "200")],
        1.0,
    );
    expect(
        "latchkey_http_requests_total",
        &[("route", "/api/redeem_link"), ("status", "410")],
        1.0,
    );
    expect(
        "latchkey_http_request_duration_seconds_count",
        &[("route", "/api/redeem_link")],
        3.0,
    );
    expect(
        "latchkey_group_commit_batch_size_count",
        &[("queue", "issues")],
        1.0,
    );
    for pool in ["read", "write"] {
        let open = sample(
            &metrics,
            "latchkey_db_connections",
            &[("pool", pool), ("state", "idle")],
        );
        assert!(open.is_some_and(|n| n >= 0.0), "{pool} pool in\n{metrics}");
    }
    assert!(metrics.contains("# HELP latchkey_links_refused_total "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_an_address_of_their_own_are_not_served_beside_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut env = Server::env(dir.path(), None);
    env.push(("LATCHKEY_METRICS_ADDR".into(), metrics_addr.to_string()));
    let server = Server::start(env, dir.path().join("log")).await;
    let beside = http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(beside.status(), 404);
    let metrics = scrape(&format!("http://{metrics_addr}/metrics")).await;
    assert_eq!(
        sample(
            &metrics,
            "latchkey_http_requests_total",
            &[("route", "/healthz"), ("status", "200")]
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_metrics_turned_on_there_is_no_metrics_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Server::env(dir.path(), None), dir.path().join("log")).await;
    let response = http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = Server::env(dir.path(), None);
    env.push(("LATCHKEY_LOG_FORMAT".into(), "json".into()));
    let log = dir.path().join("log");
    let server = Server::start(env, log.clone()).await;
    server.coworker("bob@example.com").await;
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.len() >= 3, "{text}");
    for line in &lines {
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(line["level"].is_string(), "{line}");
        assert!(line["fields"]["message"].is_string(), "{line}");
    }
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("Latchkey listening")),
        "{messages:?}"
    );
    assert!(messages.contains(&"link redeemed"), "{messages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_invitations_are_issued_is_whole_and_serves_again() {
    crate::sqlite_only!("latchkey backup copies a SQLite file");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Server::env(dir.path(), None), dir.path().join("log")).await;
    let mut bob = server.coworker("bob@example.com").await;
    let (_, alice_token) = invite(&server.base, &mut bob, "alice@example.com").await;

    // Invitations keep being issued while the backup runs.
    let issuing = {
        let (base, mut bob) = (server.base.clone(), bob.clone());
        tokio::spawn(async move {
            for i in 0..60 {
                invite(&base, &mut bob, &format!("guest{i}@example.com")).await;
            }
        })
    };
    let restored = tempfile::tempdir().unwrap();
    let copy = restored.path().join("latchkey.db");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["backup", copy.to_str().unwrap()])
        .envs(server.env.iter().cloned())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let said = String::from_utf8(output.stdout).unwrap();
    assert!(said.contains("code.key"), "{said}");
    issuing.await.unwrap();

    let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup holds session ids");
    let backup = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&backup)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let links: i64 =
        sqlx::query_scalar("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
            .fetch_one(&backup)
            .await
            .unwrap();
    assert!(
        (1..=61).contains(&links),
        "{links} invitations in the backup"
    );
    // Every invitation in the copy has its `issued` event: one moment, not a mix.
    let unmatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM magic_links l WHERE NOT EXISTS \
         (SELECT 1 FROM link_events e WHERE e.link_id = l.id AND e.kind = 'issued')",
    )
    .fetch_one(&backup)
    .await
    .unwrap();
    assert_eq!(unmatched, 0);
    backup.close().await;

    // Restored: a server on the copy lets alice in with the link issued before it.
    let again = Server::start(
        Server::env(restored.path(), None),
        restored.path().join("log"),
    )
    .await;
    let answer = call(
        &again.base,
        &mut Client::default(),
        "redeem_link",
        &[("token", &alice_token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn a_backup_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, "keep me").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["backup", taken.to_str().unwrap()])
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("latchkey.db").display()),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8(output.stderr).unwrap();
    assert!(said.contains("already exists"), "{said}");
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me");
    assert!(!dir.path().join("taken.db.partial").exists());
}

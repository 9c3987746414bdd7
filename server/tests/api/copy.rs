//! `latchkey copy-db`: a SQLite installation in use, copied into an empty PostgreSQL
//! database of a throwaway cluster, then served from there by the real binary.

use crate::helpers::*;
use crate::process::{call, invite, Server};
use std::process::Command;
use testkit::postgres::Cluster;

const TABLES: [&str; 8] = [
    "coworkers",
    "applications",
    "magic_links",
    "link_applications",
    "auth_sessions",
    "session_applications",
    "link_events",
    "tower_sessions",
];

async fn counts(url: &str) -> Vec<i64> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        counts.push(rows);
    }
    pool.close().await;
    counts
}

fn copy_db(env: &[(String, String)], to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["copy-db", "--to", to])
        .envs(env.iter().cloned())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_installation_keeps_its_sessions_links_and_trail_on_postgresql() {
    crate::sqlite_only!("it copies from SQLite into a cluster of its own; run once");
    let dir = tempfile::tempdir().unwrap();
    let env = Server::env(dir.path(), None);
    let sqlite_url = env
        .iter()
        .find(|(key, _)| key == "LATCHKEY_DATABASE_URL")
        .unwrap()
        .1
        .clone();
    let server = Server::start(env.clone(), dir.path().join("log")).await;
    Server::cli(&env, &["app", "add", "Wiki", "https://wiki.example.com"]);
    let mut bob = server.coworker("bob@example.com").await;
    let (_, alice_token) = invite(&server.base, &mut bob, "alice@example.com").await;
    let (carol_id, carol_token) = invite(&server.base, &mut bob, "carol@example.com").await;
    let (dave_id, dave_token) = invite(&server.base, &mut bob, "dave@example.com").await;
    let mut carol = Client::default();
    let redeemed = call(
        &server.base,
        &mut carol,
        "redeem_link",
        &[("token", &carol_token)],
    )
    .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    // Carol reaches the wiki through the gate: her session records it.
    let gate = http()
        .get(format!("{}/gate/auth-request", server.base))
        .header("x-original-url", "https://wiki.example.com/")
        .header("cookie", carol.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(gate.status(), 200);
    // The gate writes the reach behind its answer, within a second.
    let written = std::time::Instant::now();
    while counts(&sqlite_url).await[5] == 0 {
        assert!(
            written.elapsed() < std::time::Duration::from_secs(10),
            "the gate never wrote the reach"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let revoked = call(
        &server.base,
        &mut bob,
        "revoke_link",
        &[("id", &dave_id.to_string())],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    drop(server);

    let cluster = Cluster::start().unwrap();
    cluster.create_database("moved").unwrap();
    let url = cluster.url("moved");
    let copied = copy_db(&env, &url);
    assert!(copied.status.success(), "{copied:?}");
    let said = String::from_utf8(copied.stdout).unwrap();
    assert!(
        said.contains("magic_links\t4") && said.contains("code key"),
        "{said}"
    );
    let before = counts(&sqlite_url).await;
    assert_eq!(counts(&url).await, before, "{TABLES:?}");
    assert!(
        before.iter().all(|&rows| rows > 0),
        "every table had rows: {before:?}"
    );

    // Never into a database that holds anything.
    let again = copy_db(&env, &url);
    assert_eq!(again.status.code(), Some(1));
    let error = String::from_utf8(again.stderr).unwrap();
    assert!(error.contains("not empty"), "{error}");
    assert!(
        !error.contains("postgres://"),
        "the URL stays out of the message: {error}"
    );
    assert_eq!(counts(&url).await, before);

    // Served from PostgreSQL: the same sessions, links and trail.
    let mut moved_env = env.clone();
    moved_env.retain(|(key, _)| key != "LATCHKEY_DATABASE_URL");
    moved_env.push(("LATCHKEY_DATABASE_URL".into(), url.clone()));
    let moved = Server::start(moved_env, dir.path().join("log-moved")).await;
    let me = call(&moved.base, &mut bob, "current_user", &[]).await;
    assert_eq!(me.body["role"], "coworker", "{}", me.body);
    let me = call(&moved.base, &mut carol, "current_user", &[]).await;
    assert_eq!(me.body["role"], "invitee", "{}", me.body);
    let alice = call(
        &moved.base,
        &mut Client::default(),
        "redeem_link",
        &[("token", &alice_token)],
    )
    .await;
    assert_eq!(alice.status, 200, "{}", alice.body);
    let dave = call(
        &moved.base,
        &mut Client::default(),
        "redeem_link",
        &[("token", &dave_token)],
    )
    .await;
    assert_eq!((dave.status, dave.error()), (410, "link_revoked"));
    let erin = call(
        &moved.base,
        &mut bob,
        "issue_link",
        &[("email", "erin@example.com"), ("expires_in", "24h")],
    )
    .await;
    assert_eq!(
        erin.status, 200,
        "ids go on after the copied ones: {}",
        erin.body
    );
    assert_eq!(erin.body["id"].as_i64(), Some(5));
    let trail = call(
        &moved.base,
        &mut bob,
        "show_link",
        &[("id", &carol_id.to_string())],
    )
    .await;
    let redeems = trail.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "redeemed")
        .count();
    assert_eq!(redeems, 1, "the copy added no event: {}", trail.body);
}

/// Runs `copy-db` with `args`, `env` and `input` on its standard input.
fn copy_db_with(env: &[(String, String)], args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("copy-db")
        .args(args)
        .envs(env.iter().cloned())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_comes_from_the_environment_or_standard_input_and_any_column_name_is_copied() {
    crate::sqlite_only!("it copies from SQLite into a cluster of its own; run once");
    let dir = tempfile::tempdir().unwrap();
    let env = Server::env(dir.path(), None);
    let sqlite_url = env
        .iter()
        .find(|(key, _)| key == "LATCHKEY_DATABASE_URL")
        .unwrap()
        .1
        .clone();
    Server::cli(
        &env,
        &["coworker", "add", "bob@example.com", "--name", "Bob"],
    );
    // Columns the catalogue lists by names that must be quoted: a keyword, capitals and a
    // space, a double quote.
    let odd = [r#""user""#, r#""Mixed Case""#, r#""say ""hi""""#];
    let add = |column: &str| format!("ALTER TABLE coworkers ADD COLUMN {column} TEXT");
    sqlx::any::install_default_drivers();
    let sqlite = sqlx::AnyPool::connect(&sqlite_url).await.unwrap();
    for column in odd {
        sqlx::query(&add(column)).execute(&sqlite).await.unwrap();
    }
    sqlx::query(r#"UPDATE coworkers SET "user" = 'u', "Mixed Case" = 'm', "say ""hi""" = 'q'"#)
        .execute(&sqlite)
        .await
        .unwrap();
    sqlite.close().await;

    let cluster = Cluster::start().unwrap();
    for (database, how) in [
        ("from_argument", "argument"),
        ("from_env", "environment"),
        ("from_stdin", "stdin"),
    ] {
        cluster.create_database(database).unwrap();
        let url = cluster.url(database);
        // The schema first (any command migrates), then the same odd columns.
        let mut on_target = env.clone();
        on_target.retain(|(key, _)| key != "LATCHKEY_DATABASE_URL");
        on_target.push(("LATCHKEY_DATABASE_URL".into(), url.clone()));
        Server::cli(&on_target, &["coworker", "list"]);
        for column in odd {
            cluster.psql(database, &add(column)).unwrap();
        }
        let copied = match how {
            "argument" => copy_db_with(&env, &["--to", &url], ""),
            "environment" => {
                let mut with_target = env.clone();
                with_target.push(("LATCHKEY_COPY_TO".into(), url.clone()));
                copy_db_with(&with_target, &[], "")
            }
            _ => copy_db_with(&env, &["--to", "-"], &format!("{url}\n")),
        };
        assert!(copied.status.success(), "{how}: {copied:?}");
        let said = String::from_utf8(copied.stdout).unwrap();
        assert!(said.contains("coworkers\t1"), "{how}: {said}");
        let row = cluster
            .psql(
                database,
                r#"SELECT "user" || "Mixed Case" || "say ""hi""" FROM coworkers"#,
            )
            .unwrap();
        assert_eq!(row.trim(), "umq", "{how}");
    }

    // Nothing on standard input is refused, naming where the URL was looked for.
    let none = copy_db_with(&env, &["--to", "-"], "");
    assert_eq!(none.status.code(), Some(1), "{none:?}");
    let error = String::from_utf8(none.stderr).unwrap();
    assert!(error.contains("standard input"), "{error}");
}

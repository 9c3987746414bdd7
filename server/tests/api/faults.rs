//! Faults: a mail server that is down or hangs, a database locked by someone else, a
//! SIGTERM with requests in flight, and `kill -9` in the middle of a load. The last two
//! run the real `latchkey` binary as a child process.

use crate::helpers::*;
use crate::process::{call, Server};
use sqlx::{Connection, SqliteConnection};
use std::path::Path;
use std::time::{Duration, Instant};

/// A TCP server that accepts connections and never says a word: an SMTP server that
/// hangs. Its port, its task, and how many connections it has accepted so far.
async fn silent_server() -> (
    u16,
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<usize>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, connections) = tokio::sync::watch::channel(0);
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            accepted.send_modify(|count| *count += 1);
        }
    });
    (port, task, connections)
}

/// Waits until `connections` has seen a first connection.
async fn first_connection(connections: &mut tokio::sync::watch::Receiver<usize>) {
    tokio::time::timeout(
        Duration::from_secs(10),
        connections.wait_for(|&count| count > 0),
    )
    .await
    .expect("nothing reached the mail server")
    .unwrap();
}

#[tokio::test]
async fn a_hanging_mail_server_times_out_and_the_link_is_kept_as_not_delivered() {
    let (port, _server, _) = silent_server().await;
    let app = spawn_app_with(Setup {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        env: vec![("LATCHKEY_SMTP_TIMEOUT_SECONDS", "1".into())],
    })
    .await;
    let mut bob = app.coworker_without_mail("bob@example.com", "Bob").await;

    let started = Instant::now();
    let answer = app.issue(&mut bob, "alice@example.com").await;
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["delivery"], "failed");
    let error = answer.body["delivery_error"].as_str().unwrap();
    assert!(
        error.contains("did not answer within 1 seconds") || error.contains("timed out"),
        "{error}"
    );
    // Bounded by the timeout, not by the mail server.
    assert!(took < Duration::from_secs(10), "issuing took {took:?}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM magic_links WHERE purpose = 'invite' AND delivery = 'failed'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM magic_links WHERE purpose = 'invite' AND delivery = 'pending'"
        )
        .await,
        0,
        "no link is left half-recorded"
    );
}

/// Holds SQLite's write lock on `path` until dropped (or `release`d).
struct WriteLock(SqliteConnection);

impl WriteLock {
    async fn take(path: &Path) -> Self {
        let mut connection = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut connection)
            .await
            .unwrap();
        Self(connection)
    }

    async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_waited_for_within_a_bound_then_answered_busy() {
    crate::sqlite_only!("SQLite's file lock");
    let app = spawn_app_with(Setup {
        env: vec![("LATCHKEY_DB_BUSY_TIMEOUT_MS", "1500".into())],
        ..Setup::default()
    })
    .await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let invites = "SELECT count(*) FROM magic_links WHERE purpose = 'invite'";

    // Held longer than the busy timeout: a clear "busy", Retry-After, nothing stored.
    let lock = WriteLock::take(&app.db_path).await;
    let started = Instant::now();
    let answer = app.issue(&mut bob, "alice@example.com").await;
    let waited = started.elapsed();
    assert_eq!(
        (answer.status, answer.error()),
        (503, "busy"),
        "{}",
        answer.body
    );
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    // The whole answer is the product's own: SQLite's words stay on the server.
    assert_eq!(answer.body, serde_json::json!({ "error": "busy" }));
    let text = answer.body.to_string().to_ascii_lowercase();
    for driver_word in ["locked", "sqlite", "database", "code", "sqlx"] {
        assert!(!text.contains(driver_word), "{driver_word} in {text}");
    }
    assert!(
        waited >= Duration::from_millis(1400),
        "gave up after {waited:?}"
    );
    lock.release().await;
    assert_eq!(app.count(invites).await, 0);

    // Released while the write waits for it: the write waits its turn and succeeds.
    // Released once the issue's write has taken the one writer connection (it is then at
    // the lock), not after a fixed time a busy machine could stretch past the timeout.
    let lock = WriteLock::take(&app.db_path).await;
    let writer = app.writer.clone();
    let holder = async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(writer.size() == 1 && writer.num_idle() == 0) {
            assert!(
                Instant::now() < deadline,
                "the issue never reached the writer"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lock.release().await;
    };
    let (answer, ()) = tokio::join!(app.issue(&mut bob, "alice@example.com"), holder);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(app.count(invites).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // Issuing waits on this mail server for the 2-second SMTP timeout: a request in flight.
    let (smtp_port, _smtp, mut smtp_connections) = silent_server().await;
    let env = Server::env(dir.path(), Some(format!("smtp://127.0.0.1:{smtp_port}")));
    let mut server = Server::start(env, dir.path().join("log")).await;
    let mut bob = server.coworker("bob@example.com").await;

    let base = server.base.clone();
    let in_flight = tokio::spawn(async move {
        let form = [("email", "alice@example.com"), ("expires_in", "24h")];
        call(&base, &mut bob, "issue_link", &form).await
    });
    // The issue is in flight once it has reached the mail server.
    first_connection(&mut smtp_connections).await;
    assert!(!in_flight.is_finished());
    server.signal("TERM");
    let answer = in_flight.await.unwrap();
    assert_eq!(
        answer.status, 200,
        "the request in flight was answered: {}",
        answer.body
    );
    assert_eq!(answer.body["delivery"], "failed");
    assert!(
        server.exited_cleanly().await,
        "exit status 0 after draining"
    );
    assert!(
        reqwest::get(format!("{}/healthz", server.base))
            .await
            .is_err(),
        "nothing listens after shutdown"
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.contains("shutting down") && log.contains("Latchkey stopped"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_mid_load_every_acknowledged_link_and_session_survives() {
    crate::sqlite_only!("SQLite's write-ahead log and integrity_check");
    let dir = tempfile::tempdir().unwrap();
    let env = Server::env(dir.path(), None);
    let server = Server::start(env.clone(), dir.path().join("log")).await;
    let bob = server.coworker("bob@example.com").await;

    // Four workers issue and redeem links as fast as they can, remembering what the
    // server acknowledged; the server is killed with SIGKILL while they are at it.
    let redeemed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers = (0..4).map(|worker| {
        let base = server.base.clone();
        let mut bob = bob.clone();
        let redeemed = redeemed.clone();
        tokio::spawn(async move {
            let mut issued = Vec::new();
            let mut sessions = Vec::new();
            for n in 0.. {
                let email = format!("w{worker}-{n}@example.com");
                let form = [("email", email.as_str()), ("expires_in", "24h")];
                let Some(answer) = try_call(&base, &mut bob, "issue_link", &form).await else {
                    break;
                };
                assert_eq!(answer.status, 200, "{}", answer.body);
                issued.push(answer.body["id"].as_i64().unwrap());
                let url = answer.body["url"].as_str().unwrap().to_owned();
                let mut invitee = Client::default();
                let form = [("token", &url[url.len() - 43..])];
                let Some(answer) = try_call(&base, &mut invitee, "redeem_link", &form).await else {
                    break;
                };
                assert_eq!(answer.status, 200, "{}", answer.body);
                sessions.push((email, invitee));
                redeemed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            (issued, sessions)
        })
    });
    let workers: Vec<_> = workers.collect();
    // Killed once the load is well under way: 40 links issued and redeemed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while redeemed.load(std::sync::atomic::Ordering::Relaxed) < 40 {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut server = server;
    server.signal("KILL");
    assert!(!server.exited_cleanly().await);

    let mut issued = Vec::new();
    let mut sessions = Vec::new();
    for worker in workers {
        let (i, s) = worker.await.unwrap();
        issued.extend(i);
        sessions.extend(s);
    }
    assert!(sessions.len() >= 40, "{} sessions", sessions.len());
    eprintln!(
        "killed after {} acknowledged issues and {} acknowledged redeems",
        issued.len(),
        sessions.len()
    );

    let server = Server::start(env, dir.path().join("log")).await;
    let db_path = dir.path().join("latchkey.db");
    let mut db = SqliteConnection::connect(&format!("sqlite://{}", db_path.display()))
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    for id in &issued {
        let found: i64 = sqlx::query_scalar("SELECT count(*) FROM magic_links WHERE id = $1")
            .bind(id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(found, 1, "acknowledged link {id} was lost");
    }
    for (email, mut invitee) in sessions {
        let answer = call(&server.base, &mut invitee, "current_user", &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.body["email"],
            email.as_str(),
            "acknowledged session for {email} was lost"
        );
    }
}

/// Like [`call`], but `None` once the server has gone away.
async fn try_call(
    base: &str,
    client: &mut Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Option<Answer> {
    TestApp::try_call_at(base, client, endpoint, form).await
}

/// A browser that goes away while its mail is being sent does not leave the link
/// "Sending" for ever: delivery finishes in its own task and is recorded.
#[tokio::test]
async fn a_coworker_who_leaves_mid_issue_still_gets_the_delivery_recorded() {
    let (port, _server, mut smtp_connections) = silent_server().await;
    let app = spawn_app_with(Setup {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        env: vec![("LATCHKEY_SMTP_TIMEOUT_SECONDS", "1".into())],
    })
    .await;
    let bob = app.coworker_without_mail("bob@example.com", "Bob").await;
    // The coworker gives up on the request once it is waiting on the mail server, long
    // before the mail server's timeout: the connection closes mid-request.
    let request = reqwest::Client::new()
        .post(format!("{}/api/issue_link", app.base))
        .header("accept", "application/json")
        .header("cookie", bob.cookie.clone().unwrap())
        .form(&[("email", "alice@example.com"), ("expires_in", "24h")])
        .send();
    let gone = tokio::spawn(request);
    first_connection(&mut smtp_connections).await;
    assert!(!gone.is_finished(), "answered before the mail server did");
    gone.abort();
    let pending =
        "SELECT count(*) FROM magic_links WHERE purpose = 'invite' AND delivery = 'pending'";
    assert_eq!(app.count(pending).await, 1, "the link is stored at once");
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.count(pending).await > 0 {
        assert!(Instant::now() < deadline, "the delivery was never recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM link_events WHERE kind = 'mail_failed'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_answers_busy_at_once_and_stores_nothing() {
    use app::server::group::{GroupCommit, MOST_PER_TRANSACTION};
    use app::server::store::redeems::Redeem;
    use app::server::store::sessions::{Lifetimes, Opening};
    crate::sqlite_only!("the group-commit queue is SQLite's one writer's");
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    app.invite(&mut bob, "first@example.com").await;
    // 100 pending invitations whose token hashes the test knows.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
         INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id,
                                  created_at, expires_at, delivery)
         SELECT unhex(printf('%064x', i)), 'invite', 'guest' || i || '@example.com', 1,
                1000, 4000000000, 'sent' FROM n",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let url = format!("sqlite://{}", app.db_path.display());
    let writer = app::server::db::connect_writer(
        &url,
        Duration::from_secs(30),
        app::server::db::Durability::Normal,
    )
    .await
    .unwrap();
    let room = 4;
    let queue = GroupCommit::<Redeem>::with_room(writer, room);
    let lock = WriteLock::take(&app.db_path).await;
    let jobs: Vec<_> = (1..=100u8)
        .map(|i| {
            let queue = queue.clone();
            let mut token_hash = vec![0u8; 31];
            token_hash.push(i);
            let job = Redeem {
                opening: Opening {
                    id: format!("auth-{i}"),
                    token_hash,
                    at: app::server::now(),
                    lifetimes: Lifetimes {
                        coworker_secs: 3600,
                        invitee_default_minutes: 60,
                        invitee_longest_secs: 3600,
                    },
                    user_agent: None,
                    ip: "192.0.2.1".into(),
                    gate_hash: vec![i; 32],
                },
                record_id: format!("record-{i}"),
                record_data: vec![],
            };
            tokio::spawn(async move { queue.commit(job).await })
        })
        .collect();
    // While the writer waits for the lock, what does not fit is refused at once: at most
    // one transaction's worth is taken, and `room` more wait.
    let most_taken = MOST_PER_TRANSACTION + room;
    let deadline = Instant::now() + Duration::from_secs(10);
    while jobs.iter().filter(|job| job.is_finished()).count() < 100 - most_taken {
        assert!(
            Instant::now() < deadline,
            "the refusals did not come at once"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut busy = 0;
    let mut waiting = Vec::new();
    for job in jobs {
        if job.is_finished() {
            match job.await.unwrap() {
                Err(app::error::AppError::Busy) => busy += 1,
                other => panic!("finished while the lock was held: {other:?}"),
            }
        } else {
            waiting.push(job);
        }
    }
    lock.release().await;
    for job in waiting {
        match job.await.unwrap() {
            Ok(rows) => assert_eq!(rows.len(), 1),
            Err(app::error::AppError::Busy) => busy += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    let accepted = 100 - busy;
    assert!(
        busy >= (100 - most_taken) as i64 && accepted >= 1,
        "busy {busy}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE recipient_email LIKE 'guest%' AND redeemed_at IS NOT NULL")
            .await,
        accepted,
        "every busy answer stored nothing, every other one its redeem"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM auth_sessions").await,
        accepted + 1,
        "bob's session and one per accepted redeem"
    );
}

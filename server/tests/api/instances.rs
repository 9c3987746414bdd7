//! Many instances, one PostgreSQL database: three real `latchkey serve` processes,
//! started at the same moment on an empty database, sharing the database, the code key
//! and the outbox as instances behind a load balancer would. Each test starts a
//! throwaway cluster of its own (so that it may also restart it), and runs in the suite's
//! SQLite pass only: the PostgreSQL pass would run the same thing again.

use crate::helpers::*;
use crate::process::{call, Server};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::postgres::Cluster;

struct Fleet {
    servers: Vec<Server>,
    /// One base URL per instance.
    bases: Vec<String>,
    url: String,
    cluster: Cluster,
    _dirs: Vec<tempfile::TempDir>,
}

/// Three instances on a fresh database of a fresh cluster, started at once, with
/// `extra` settings.
async fn fleet(extra: &[(&str, &str)]) -> Fleet {
    let cluster = Cluster::start().unwrap();
    cluster.create_database("fleet").unwrap();
    let url = cluster.url("fleet");
    let shared = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    let mut starting = Vec::new();
    for i in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let mut env = Server::env(dir.path(), None);
        env.retain(|(key, _)| {
            !matches!(
                key.as_str(),
                "LATCHKEY_DATABASE_URL" | "LATCHKEY_CODE_KEY_FILE" | "LATCHKEY_OUTBOX_DIR"
            )
        });
        env.push(("LATCHKEY_DATABASE_URL".into(), url.clone()));
        let shared_file = |name: &str| shared.path().join(name).display().to_string();
        env.push(("LATCHKEY_CODE_KEY_FILE".into(), shared_file("code.key")));
        env.push(("LATCHKEY_OUTBOX_DIR".into(), shared_file("outbox")));
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push(((*key).into(), (*value).into()));
        }
        // The first start makes the code key; the others must read the same one.
        if i == 0 {
            app::server::codes::CodeKey::load_or_create(&shared.path().join("code.key")).unwrap();
        }
        let log = dir.path().join("log");
        starting.push(Server::start(env, log));
        dirs.push(dir);
    }
    dirs.push(shared);
    let servers = futures::future::join_all(starting).await;
    let bases = servers.iter().map(|server| server.base.clone()).collect();
    Fleet {
        servers,
        bases,
        url,
        cluster,
        _dirs: dirs,
    }
}

impl Fleet {
    async fn db(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.url).await.unwrap()
    }

    /// Issues an invitation through instance `on`; answers its id and token.
    async fn invite(&self, on: usize, bob: &mut Client, email: &str) -> (i64, String) {
        crate::process::invite(&self.bases[on], bob, email).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_start_at_once_on_an_empty_database_and_migrate_it_once() {
    crate::sqlite_only!("it starts PostgreSQL itself; run once");
    let fleet = fleet(&[]).await;
    let db = fleet.db().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        applied,
        app::server::postgres::MIGRATOR.iter().count() as i64
    );
    for base in &fleet.bases {
        let health = http().get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_redeems_of_one_token_over_three_instances_open_one_session_fifty_times() {
    crate::sqlite_only!("it starts PostgreSQL itself; run once");
    let fleet = fleet(&[]).await;
    let mut bob = fleet.servers[0].coworker("bob@example.com").await;
    let db = fleet.db().await;
    for round in 0..50 {
        let (id, token) = fleet
            .invite(round % 3, &mut bob, &format!("guest{round}@example.com"))
            .await;
        let attempts = (0..64).map(|i| {
            let base = fleet.bases[i % 3].clone();
            let token = token.clone();
            tokio::spawn(async move {
                let answer = call(
                    &base,
                    &mut Client::default(),
                    "redeem_link",
                    &[("token", &token)],
                )
                .await;
                (answer.status, answer.error().to_owned())
            })
        });
        let answers = futures::future::join_all(attempts).await;
        let won = answers
            .iter()
            .filter(|a| a.as_ref().unwrap().0 == 200)
            .count();
        let used = answers
            .iter()
            .filter(|a| a.as_ref().unwrap() == &(410, "link_used".to_owned()))
            .count();
        assert_eq!((won, used), (1, 63), "round {round}: {answers:?}");
        let sessions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM auth_sessions WHERE link_id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(sessions, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_through_one_instance_ends_the_session_at_anothers_next_request() {
    crate::sqlite_only!("it starts PostgreSQL itself; run once");
    let fleet = fleet(&[]).await;
    let mut bob = fleet.servers[0].coworker("bob@example.com").await;
    let (id, token) = fleet.invite(0, &mut bob, "alice@example.com").await;
    let mut alice = Client::default();
    let redeemed = call(
        &fleet.bases[1],
        &mut alice,
        "redeem_link",
        &[("token", &token)],
    )
    .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    for base in &fleet.bases {
        let me = call(base, &mut alice, "current_user", &[]).await;
        assert_eq!(me.body["role"], "invitee", "{base}: {}", me.body);
    }
    let revoked = call(
        &fleet.bases[0],
        &mut bob,
        "revoke_link",
        &[("id", &id.to_string())],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    for base in [&fleet.bases[1], &fleet.bases[2]] {
        let me = call(base, &mut alice, "current_user", &[]).await;
        assert!(
            me.body.is_null() || me.body["role"] != "invitee",
            "{base}: {}",
            me.body
        );
    }
}

/// Asks instance `base`'s gate (forward-auth, as Caddy or Traefik would) about the wiki
/// for a browser holding `client`'s cookies; answers the status.
async fn gated(base: &str, browser: &Client) -> u16 {
    // The gate's own answer: a redirect to sign in is not followed.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client
        .get(format!("{base}/gate/forward-auth"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "wiki.example.com")
        .header("x-forwarded-uri", "/page");
    if let Some(cookie) = &browser.cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_through_one_instance_is_refused_by_the_others_gates_within_two_seconds_even_with_their_listeners_terminated(
) {
    crate::sqlite_only!("it starts PostgreSQL itself; run once");
    let fleet = fleet(&[]).await;
    let mut bob = fleet.servers[0].coworker("bob@example.com").await;
    let added = call(
        &fleet.bases[0],
        &mut bob,
        "add_application",
        &[("name", "Wiki"), ("url", "https://wiki.example.com")],
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let db = fleet.db().await;
    for terminate in [false, true] {
        let email = format!("alice-{terminate}@example.com");
        let (id, token) = fleet.invite(0, &mut bob, &email).await;
        let mut alice = Client::default();
        let redeemed = call(
            &fleet.bases[1],
            &mut alice,
            "redeem_link",
            &[("token", &token)],
        )
        .await;
        assert_eq!(redeemed.status, 200, "{}", redeemed.body);
        // Both other instances remember the session now.
        for base in &fleet.bases[1..] {
            assert_eq!(gated(base, &alice).await, 200, "{base}");
            assert_eq!(gated(base, &alice).await, 200, "{base}");
        }
        if terminate {
            // Every instance's listening connection is cut, as a failover or an
            // operator would: no notice of the revoke below can reach them.
            let cut: Vec<(bool,)> = sqlx::query_as(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE query LIKE '%LISTEN%latchkey_gate%' AND pid <> pg_backend_pid()",
            )
            .fetch_all(&db)
            .await
            .unwrap();
            assert_eq!(cut.len(), 3, "one listener per instance");
            // The guarantee starts when an instance has read its connection's end (until
            // then a notice it never got cannot be told from none sent): wait for each
            // to say so, then revoke.
            for server in &fleet.servers {
                let noticed = Instant::now();
                while !std::fs::read_to_string(&server.log)
                    .unwrap_or_default()
                    .contains("the gate stopped receiving change notices")
                {
                    assert!(
                        noticed.elapsed() < Duration::from_secs(10),
                        "{} never noticed its listener was cut",
                        server.base
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        let revoked = call(
            &fleet.bases[0],
            &mut bob,
            "revoke_link",
            &[("id", &id.to_string())],
        )
        .await;
        assert_eq!(revoked.status, 200, "{}", revoked.body);
        let committed = Instant::now();
        for base in &fleet.bases[1..] {
            let mut answers = Vec::new();
            loop {
                let status = gated(base, &alice).await;
                answers.push(status);
                if status != 200 {
                    break;
                }
                if committed.elapsed() >= Duration::from_secs(2) {
                    let log = fleet
                        .servers
                        .iter()
                        .find(|server| &server.base == base)
                        .map(|server| std::fs::read_to_string(&server.log).unwrap_or_default())
                        .unwrap_or_default();
                    panic!(
                        "{base} (listeners cut: {terminate}) still lets the revoked session \
                         through after 2 s: {answers:?}\nits log:\n{log}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if terminate {
                assert_eq!(
                    answers[0], 302,
                    "{base}: with its listener cut, the very first request is refused"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_budget_of_an_address_is_one_budget_across_instances() {
    crate::sqlite_only!("it starts PostgreSQL itself; run once");
    let fleet = fleet(&[("LATCHKEY_RATE_SIGNIN_PER_ADDRESS_PER_HOUR", "5")]).await;
    let mut statuses = Vec::new();
    for i in 0..9 {
        let answer = call(
            &fleet.bases[i % 3],
            &mut Client::default(),
            "request_signin",
            &[("email", "carol@example.com")],
        )
        .await;
        statuses.push(answer.status);
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        4,
        "{statuses:?}"
    );
}

/// Issues and redeems through instance `on` until it stops answering or `stop` is set;
/// answers the ids of the links acknowledged as issued and of those acknowledged as
/// redeemed.
async fn load(
    base: String,
    mut bob: Client,
    worker: usize,
    acknowledged: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Vec<i64>, Vec<i64>) {
    let (mut issued, mut redeemed) = (Vec::new(), Vec::new());
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let email = format!("w{worker}-{n}@example.com");
        let form = [("email", email.as_str()), ("expires_in", "24h")];
        let Some(answer) = TestApp::try_call_at(&base, &mut bob, "issue_link", &form).await else {
            break;
        };
        if answer.status != 200 {
            assert_eq!(
                (answer.status, answer.error()),
                (503, "busy"),
                "{}",
                answer.body
            );
            continue;
        }
        let id = answer.body["id"].as_i64().unwrap();
        issued.push(id);
        let token = token_in(answer.body["url"].as_str().unwrap());
        let form = [("token", token.as_str())];
        let Some(answer) =
            TestApp::try_call_at(&base, &mut Client::default(), "redeem_link", &form).await
        else {
            break;
        };
        if answer.status == 200 {
            redeemed.push(id);
        } else {
            assert_eq!(
                (answer.status, answer.error()),
                (503, "busy"),
                "{}",
                answer.body
            );
        }
        acknowledged.fetch_add(1, Ordering::Relaxed);
    }
    (issued, redeemed)
}

/// Six workers issuing and redeeming, two on each instance, until stopped.
struct Load {
    acknowledged: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<(Vec<i64>, Vec<i64>)>>,
}

impl Load {
    fn start(fleet: &Fleet, bob: &Client) -> Self {
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers = (0..6)
            .map(|worker| {
                tokio::spawn(load(
                    fleet.bases[worker % 3].clone(),
                    bob.clone(),
                    worker,
                    acknowledged.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        Self {
            acknowledged,
            stop,
            workers,
        }
    }

    /// Waits until `more` further issue-and-redeem rounds were acknowledged.
    async fn wait_for(&self, more: usize, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        let until = self.acknowledged.load(Ordering::Relaxed) + more;
        while self.acknowledged.load(Ordering::Relaxed) < until {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the workers; the ids of the links acknowledged as issued, and as redeemed.
    async fn finish(self) -> (Vec<i64>, Vec<i64>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut issued, mut redeemed) = (Vec::new(), Vec::new());
        for worker in self.workers {
            let (i, r) = worker.await.unwrap();
            issued.extend(i);
            redeemed.extend(r);
        }
        (issued, redeemed)
    }
}

/// Every acknowledged issue is stored with its `issued` event, and every acknowledged
/// redeem with its one session; no invitation is half-stored.
async fn all_acknowledged_writes_are_whole(db: &sqlx::AnyPool, issued: &[i64], redeemed: &[i64]) {
    for id in issued {
        let (links, events): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM magic_links WHERE id = $1),
                    (SELECT count(*) FROM link_events WHERE link_id = $1 AND kind = 'issued')",
        )
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap();
        assert_eq!((links, events), (1, 1), "acknowledged link {id}");
    }
    for id in redeemed {
        let (used, sessions): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM magic_links WHERE id = $1 AND redeemed_at IS NOT NULL),
                    (SELECT count(*) FROM auth_sessions WHERE link_id = $1)",
        )
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap();
        assert_eq!((used, sessions), (1, 1), "acknowledged redeem of link {id}");
    }
    let half: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM magic_links l
          WHERE NOT EXISTS (SELECT 1 FROM link_events e WHERE e.link_id = l.id AND e.kind = 'issued')
             OR (l.purpose = 'invite' AND l.redeemed_at IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM auth_sessions s WHERE s.link_id = l.id))",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(half, 0, "half-stored invitations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_instance_mid_load_loses_no_acknowledged_write() {
    crate::sqlite_only!("it starts PostgreSQL itself; run once");
    let mut fleet = fleet(&[]).await;
    let bob = fleet.servers[0].coworker("bob@example.com").await;
    let load = Load::start(&fleet, &bob);
    load.wait_for(60, Duration::from_secs(60), "the load never got going")
        .await;
    fleet.servers[1].signal("KILL");
    assert!(!fleet.servers[1].exited_cleanly().await);
    load.wait_for(30, Duration::from_secs(60), "the other instances stopped")
        .await;
    let (issued, redeemed) = load.finish().await;
    eprintln!(
        "one of three killed; {} acknowledged issues, {} acknowledged redeems",
        issued.len(),
        redeemed.len()
    );
    all_acknowledged_writes_are_whole(&fleet.db().await, &issued, &redeemed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_is_answered_busy_and_every_instance_comes_back() {
    crate::sqlite_only!("it starts PostgreSQL itself; run once");
    let mut fleet = fleet(&[]).await;
    let bob = fleet.servers[0].coworker("bob@example.com").await;
    let load = Load::start(&fleet, &bob);
    load.wait_for(30, Duration::from_secs(60), "the load never got going")
        .await;
    // `pg_ctl restart`: the server goes away and comes back on the same port.
    fleet.cluster.restart().unwrap();
    let restarted = Instant::now();
    // Every instance serves again, by itself, within seconds.
    for base in &fleet.bases {
        loop {
            let health = http().get(format!("{base}/healthz")).send().await.unwrap();
            if health.status() == 200 {
                break;
            }
            assert_eq!(health.status(), 503);
            assert!(
                restarted.elapsed() < Duration::from_secs(20),
                "{base} did not come back"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    load.wait_for(30, Duration::from_secs(60), "the load did not resume")
        .await;
    let (issued, redeemed) = load.finish().await;
    eprintln!(
        "database restarted; instances back {:?} later; {} acknowledged issues, {} redeems",
        restarted.elapsed(),
        issued.len(),
        redeemed.len()
    );
    all_acknowledged_writes_are_whole(&fleet.db().await, &issued, &redeemed).await;
}

//! Connecting and migrating, on a real throwaway PostgreSQL cluster each.

use super::*;
use testkit::postgres::Cluster;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A cluster with one empty database, `latchkey`, and its URL.
fn empty_database() -> (Cluster, String) {
    let cluster = Cluster::start().expect("a throwaway PostgreSQL cluster");
    cluster.create_database("latchkey").unwrap();
    let url = cluster.url("latchkey");
    (cluster, url)
}

/// Every applied migration's version, as many times as it is recorded, with whether it
/// succeeded.
async fn applied(pool: &PgPool) -> Vec<(i64, bool)> {
    sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn expected_migrations() -> Vec<(i64, bool)> {
    MIGRATOR.iter().map(|m| (m.version, true)).collect()
}

/// The tables of the schema, each once.
async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
          ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrations_apply_on_an_empty_database_and_a_second_start_finds_nothing_to_do() {
    let (_cluster, url) = empty_database();

    let pool = connect(&url, 2, TIMEOUT).await.unwrap();
    assert_eq!(applied(&pool).await, expected_migrations());
    assert_eq!(
        tables(&pool).await,
        [
            "_sqlx_migrations",
            "applications",
            "auth_sessions",
            "coworkers",
            "link_applications",
            "link_events",
            "magic_links",
            "rate_limits",
            "session_applications",
            "tower_sessions",
        ]
    );
    // The schema works: a redeem's session writes its trail event through the trigger.
    sqlx::raw_sql(
        "INSERT INTO coworkers (email, created_at) VALUES ('bob@example.com', 100);
         INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id, created_at, expires_at)
           VALUES (sha256('t'), 'invite', 'alice@example.com', 1, 100, 200);
         INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at)
           VALUES ('s1', 1, 150, 150, 300);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM link_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["redeemed"]);
    pool.close().await;

    let again = connect(&url, 2, TIMEOUT).await.unwrap();
    assert_eq!(applied(&again).await, expected_migrations());
}

#[tokio::test]
async fn both_url_schemes_connect_and_others_are_refused() {
    let (cluster, url) = empty_database();
    let postgresql = url.replacen("postgres://", "postgresql://", 1);
    connect(&url, 1, TIMEOUT).await.unwrap().close().await;
    connect(&postgresql, 1, TIMEOUT)
        .await
        .unwrap()
        .close()
        .await;

    let refused = connect("sqlite://data/latchkey.db", 1, TIMEOUT).await;
    assert!(refused.is_err());
    // A failing connection's error names where, never the password.
    let secret = format!(
        "postgres://latchkey:hunter2@127.0.0.1:{}/nowhere",
        cluster.port()
    );
    let error = format!("{:#}", connect(&secret, 1, TIMEOUT).await.unwrap_err());
    assert!(error.contains("127.0.0.1"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

/// Three instances started at once on one empty database: each must start, and the
/// schema must be made once (the migrator's advisory lock makes the others wait).
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn three_instances_starting_at_once_all_start_and_migrate_once() {
    let (_cluster, url) = empty_database();

    let starts: Vec<_> = (0..3)
        .map(|_| tokio::spawn(connect_owned(url.clone())))
        .collect();
    let mut pools = Vec::new();
    for start in starts {
        pools.push(start.await.unwrap().expect("every instance starts"));
    }

    let pool = &pools[0];
    assert_eq!(applied(pool).await, expected_migrations());
    let (triggers, extensions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname = 'auth_sessions_opened'),
                (SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((triggers, extensions), (1, 1));
    assert_eq!(tables(pool).await.len(), 10);
    for pool in &pools {
        sqlx::query("SELECT count(*) FROM magic_links")
            .execute(pool)
            .await
            .expect("every instance can query the schema");
    }
}

async fn connect_owned(url: String) -> Result<PgPool> {
    connect(&url, 2, TIMEOUT).await
}

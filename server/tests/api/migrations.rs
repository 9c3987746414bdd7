//! Upgrading a database made by an earlier version keeps every row and reference.

use app::server::db;
use sqlx::{Connection, SqliteConnection};
use std::borrow::Cow;
use std::time::Duration;

#[tokio::test]
async fn a_first_version_database_upgrades_with_its_rows_and_references_intact() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());

    // The schema as the first release left it, with a coworker, a used link and the
    // session it opened.
    let mut first = sqlx::migrate!("../migrations/sqlite");
    first.migrations = Cow::Owned(first.migrations[..1].to_vec());
    let mut old = SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    first.run(&mut old).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO coworkers (id, email, name, created_at) VALUES (1, 'bob@example.com', 'Bob', 100);
         INSERT INTO magic_links (id, token_hash, purpose, recipient_email, coworker_id, created_at, expires_at, redeemed_at, delivery)
           VALUES (7, zeroblob(32), 'invite', 'alice@example.com', 1, 100, 200, 150, 'sent');
         INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at)
           VALUES ('s1', 7, 150, 150, 9999999999);",
    )
    .execute(&mut old)
    .await
    .unwrap();
    old.close().await.unwrap();

    let pool = db::connect(&url, Duration::from_secs(1), db::Durability::Full)
        .await
        .unwrap();
    let (email, hash_len, delivery): (String, i64, String) = sqlx::query_as(
        "SELECT recipient_email, length(token_hash), delivery FROM magic_links WHERE id = 7",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (email.as_str(), hash_len, delivery.as_str()),
        ("alice@example.com", 32, "sent")
    );
    let session_link: i64 = sqlx::query_scalar("SELECT link_id FROM auth_sessions WHERE id = 's1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(session_link, 7);
    // The new rule: a dead link's hash can be forgotten; references are still enforced.
    sqlx::query("UPDATE magic_links SET token_hash = NULL WHERE id = 7")
        .execute(&pool)
        .await
        .unwrap();
    let dangling = sqlx::query(
        "INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at)
         VALUES ('s2', 999, 1, 1, 2)",
    )
    .execute(&pool)
    .await;
    assert!(
        dangling.is_err(),
        "foreign keys are on again after migrating"
    );
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
}

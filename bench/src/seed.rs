//! Data straight into SQLite: the links the load redeems, the rows the list pages over,
//! and the raw-SQLite ceiling measured on a database of the same schema.

use anyhow::{Context, Result};
use app::server::email::EmailAddress;
use app::server::tokens::PlainToken;
use app::server::{coworkers, db, links, now};
use serde_json::{json, Value};
use sqlx::AnyPool;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Seeded {
    /// Plaintext tokens of pending invitations, each to be redeemed once.
    pub tokens: Vec<String>,
    /// A coworker sign-in token for the load's coworker.
    pub signin_token: String,
}

async fn open(path: &Path) -> Result<AnyPool> {
    open_url(&crate::server::sqlite_url(path)).await
}

async fn open_url(url: &str) -> Result<AnyPool> {
    db::connect(url, Duration::from_secs(5), db::Durability::Full).await
}

/// A fresh database (SQLite or PostgreSQL) with one coworker and `count` pending
/// invitations.
pub async fn prepare(url: &str, count: usize) -> Result<Seeded> {
    let pool = open_url(url).await?;
    let email = EmailAddress::parse("email", "bench@example.com").map_err(anyhow::Error::msg)?;
    coworkers::add(&pool, &email, Some("Bench Coworker")).await?;
    let (url, _, _) = links::create_signin(&pool, "http://bench", 3600, &email)
        .await
        .map_err(anyhow::Error::msg)?
        .context("the bench coworker exists")?;
    let signin_token = url.rsplit('#').next().unwrap_or_default().to_owned();
    let tokens = insert_pending(&pool, count, "load").await?;
    pool.close().await;
    Ok(Seeded {
        tokens,
        signin_token,
    })
}

async fn insert_pending(pool: &AnyPool, count: usize, tag: &str) -> Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(count);
    let at = now();
    let mut tx = db::begin_write(pool).await?;
    for i in 0..count {
        let token = PlainToken::generate();
        sqlx::query(
            "INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id, created_at, expires_at, delivery)
             VALUES ($1, 'invite', $2, 1, $3, $4, 'sent')",
        )
        .bind(token.hashed().as_bytes())
        .bind(format!("{tag}-{i}@example.com"))
        .bind(at)
        .bind(at + 86_400)
        .execute(&mut *tx)
        .await?;
        tokens.push(token.expose().to_owned());
    }
    tx.commit().await?;
    Ok(tokens)
}

/// Adds invitations until there are `total`: a mix of pending, used, revoked and expired,
/// issued over the past year.
pub async fn grow_to(path: &Path, total: usize) -> Result<()> {
    let pool = open(path).await?;
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
        .fetch_one(&pool)
        .await?;
    let at = now();
    let mut i = have as usize;
    while i < total {
        let mut tx = db::begin_write(&pool).await?;
        for _ in 0..(total - i).min(50_000) {
            let created = at - 365 * 86_400 + (i as i64 % (365 * 86_400));
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
            hash[8] = 0xbe;
            let (redeemed, revoked) = match i % 4 {
                0 => (Some(created + 60), None),
                1 => (None, Some(created + 120)),
                _ => (None, None),
            };
            sqlx::query(
                "INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id, created_at, expires_at, redeemed_at, revoked_at, delivery)
                 VALUES ($1, 'invite', $2, 1, $3, $4, $5, $6, 'sent')",
            )
            .bind(&hash[..])
            .bind(format!("guest-{i}@example.com"))
            .bind(created)
            .bind(created + 86_400)
            .bind(redeemed)
            .bind(revoked)
            .execute(&mut *tx)
            .await?;
            i += 1;
        }
        tx.commit().await?;
    }
    pool.close().await;
    Ok(())
}

/// Registers the gate bench's wiki (`gate::WIKI`) in the PostgreSQL database at `url`
/// and lets every invitation open it.
pub async fn open_wiki_postgres(url: &str) -> Result<()> {
    let pool = open_url(url).await?;
    let wiki = app::server::applications::add(&pool, "Wiki", crate::gate::WIKI)
        .await
        .map_err(|e| anyhow::anyhow!("registering the wiki: {e:?}"))?;
    sqlx::query(
        "INSERT INTO link_applications (link_id, application_id)
         SELECT id, $1 FROM magic_links WHERE purpose = 'invite'",
    )
    .bind(wiki.id)
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}

/// Adds invitations to the PostgreSQL database at `url` until there are `total`, the same
/// mix as [`grow_to`] (pending, used, revoked and expired, issued over the past year), in
/// one statement.
pub async fn grow_postgres(url: &str, total: usize) -> Result<()> {
    let pool = open_url(url).await?;
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
        .fetch_one(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id, created_at,
                                  expires_at, redeemed_at, revoked_at, delivery)
         SELECT decode(lpad(to_hex(i), 62, '0') || 'be', 'hex'), 'invite',
                'guest-' || i || '@example.com', 1, c, c + 86400,
                CASE WHEN i % 4 = 0 THEN c + 60 END, CASE WHEN i % 4 = 1 THEN c + 120 END, 'sent'
           FROM (SELECT i, $1 - 365 * 86400 + (i % (365 * 86400)) AS c
                   FROM generate_series($2, $3) AS i) AS grown",
    )
    .bind(now())
    .bind(have)
    .bind(total as i64 - 1)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE magic_links").execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// Transactions per second for the redeem's durable work alone (mark the token used,
/// insert the session; on the real schema, so the session insert's trigger writes the
/// trail event too), one transaction after another on one connection:
///
/// - `full`, `normal`: raw SQLite through rusqlite, with prepared statements and no async
///   runtime or thread hand-off: the ceiling, with each `LATCHKEY_SQLITE_SYNCHRONOUS`;
/// - `normal_through_sqlx`: the same transaction sent through sqlx as one batch (the
///   form the server's redeem takes), to show what the driver's hand-offs cost.
pub async fn ceiling(path: &Path, transactions: usize) -> Result<Value> {
    let pool = open(path).await?;
    let email = EmailAddress::parse("email", "bench@example.com").map_err(anyhow::Error::msg)?;
    coworkers::add(&pool, &email, None).await?;
    let mut batches = Vec::new();
    for name in ["full", "normal", "normal_through_sqlx"] {
        let tokens = insert_pending(&pool, transactions, name).await?;
        let hashes: Vec<[u8; 32]> = tokens
            .iter()
            .map(|t| PlainToken::parse(t).expect("a token").hashed().0)
            .collect();
        batches.push((name, hashes));
    }
    let mut results = serde_json::Map::new();

    // Through sqlx, one batch per transaction.
    let (name, hashes) = batches.pop().expect("three batches");
    let mut connection = pool.acquire().await?;
    sqlx::query("PRAGMA synchronous = NORMAL")
        .execute(&mut *connection)
        .await?;
    let started = Instant::now();
    for (i, hash) in hashes.iter().enumerate() {
        let at = now();
        let won: Vec<(i64,)> = sqlx::query_as(
            "BEGIN IMMEDIATE;
             UPDATE magic_links SET redeemed_at = ?2
              WHERE token_hash = ?1 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
             RETURNING id;
             INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at)
             SELECT ?3, id, ?2, ?2, ?2 + 86400 FROM magic_links
              WHERE token_hash = ?1 AND changes() = 1;
             COMMIT;",
        )
        .bind(&hash[..])
        .bind(at)
        .bind(format!("{name}-{i:064}"))
        .fetch_all(&mut *connection)
        .await?;
        anyhow::ensure!(won.len() == 1, "a ceiling redeem changed nothing");
    }
    results.insert(name.to_owned(), json!(per_second(transactions, started)));
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut *connection)
        .await?;
    drop(connection);
    pool.close().await;

    // Raw SQLite.
    let path = path.to_owned();
    let raw = tokio::task::spawn_blocking(move || -> Result<Vec<(&'static str, f64)>> {
        let mut connection = rusqlite::Connection::open(&path)?;
        connection.pragma_update(None, "foreign_keys", true)?;
        let mut measured = Vec::new();
        for (name, hashes) in batches {
            connection.pragma_update(None, "synchronous", name.to_uppercase())?;
            let started = Instant::now();
            for (i, hash) in hashes.iter().enumerate() {
                let at = now();
                let tx = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let id: i64 = tx
                    .prepare_cached(
                        "UPDATE magic_links SET redeemed_at = ?2
                          WHERE token_hash = ?1 AND redeemed_at IS NULL AND revoked_at IS NULL
                            AND expires_at > ?2
                         RETURNING id",
                    )?
                    .query_row(rusqlite::params![&hash[..], at], |row| row.get(0))?;
                tx.prepare_cached(
                    "INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at)
                     VALUES (?1, ?2, ?3, ?3, ?4)",
                )?
                .execute(rusqlite::params![
                    format!("{name}-{i:064}"),
                    id,
                    at,
                    at + 86_400
                ])?;
                tx.commit()?;
            }
            measured.push((name, per_second(hashes.len(), started)));
        }
        Ok(measured)
    })
    .await??;
    for (name, value) in raw {
        results.insert(name.to_owned(), json!(value));
    }
    Ok(Value::Object(results))
}

fn per_second(transactions: usize, started: Instant) -> f64 {
    (transactions as f64 / started.elapsed().as_secs_f64()).round()
}

//! The two engines' schemas are one schema: after every SQLite migration (in memory) and
//! every PostgreSQL one (on a throwaway cluster), each table has the same columns in the
//! same order, with the same nullability and kind of type, the same primary key, unique
//! constraints, foreign keys and number of CHECKs, and both have the same indexes and
//! triggers under the same names. A column, index or trigger added to one engine only
//! fails here.
//!
//! The differences that are meant, each checked for what stands in its place:
//! - SQLite's address search is an FTS5 table, `magic_links_search`, kept in step by
//!   three triggers; PostgreSQL's is a trigram (GIN) index of that name on the column.
//! - A 0/1 flag is `INTEGER … CHECK (flag IN (0, 1))` on SQLite and `BOOLEAN` on
//!   PostgreSQL, whose type makes that CHECK.
//! - PostgreSQL also refuses TRUNCATE of the append-only trail (`link_events_no_truncate`);
//!   SQLite has no TRUNCATE.
//! - The gate's change log (`gate_changes`) is a table on SQLite only: on PostgreSQL the
//!   same triggers send each change as a notice instead.

use super::*;
use crate::server::db;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};

const SEARCH: &str = "magic_links_search";
const SQLITE_SEARCH_TRIGGERS: [&str; 3] = [
    "magic_links_search_insert",
    "magic_links_search_delete",
    "magic_links_search_update",
];
const POSTGRES_ONLY_TRIGGERS: [&str; 1] = ["link_events_no_truncate"];

/// One table's shape, as both engines can describe it.
#[derive(Debug, PartialEq, Eq)]
struct Table {
    /// Name, kind of type (`integer`, `text`, `blob`, `boolean`), and NOT NULL.
    columns: Vec<(String, &'static str, bool)>,
    primary_key: Vec<String>,
    /// The columns of each UNIQUE constraint (not unique indexes: see `indexes`).
    unique: BTreeSet<Vec<String>>,
    /// Column → referenced table and column, and what deleting the referenced row does.
    foreign_keys: BTreeSet<(String, String, String, String)>,
    /// CHECK constraints, besides the ones a BOOLEAN stands for.
    checks: usize,
}

/// A PostgreSQL constraint: its kind (`pg_constraint.contype`), its columns, and for a
/// foreign key the referenced table, column, and `confdeltype`.
type Constraint = (String, Vec<String>, Option<String>, Option<String>, String);

#[derive(Debug, Default)]
struct Schema {
    tables: BTreeMap<String, Table>,
    /// Indexes made with CREATE INDEX: name → table, unique, partial, key columns
    /// (`(expression)` for an expression).
    indexes: BTreeMap<String, (String, bool, bool, Vec<String>)>,
    /// Trigger name → its table.
    triggers: BTreeMap<String, String>,
}

#[tokio::test]
async fn the_schema_matches_sqlite_table_by_table() {
    let cluster = testkit::postgres::Cluster::start().unwrap();
    cluster.create_database("parity").unwrap();
    let pool = connect(&cluster.url("parity"), 2, Duration::from_secs(10))
        .await
        .unwrap();
    let mut sqlite = SqliteConnectOptions::from_str("sqlite::memory:")
        .unwrap()
        // As db::connect migrates: SQLite's table rebuilds need foreign keys off.
        .foreign_keys(false)
        .connect()
        .await
        .unwrap();
    db::MIGRATOR.run(&mut sqlite).await.unwrap();

    let mut lite = sqlite_schema(&mut sqlite).await;
    let mut pg = postgres_schema(&pool).await;

    // The search: an FTS5 table over recipient_email on one side, a trigram index of
    // the same name on the other.
    let fts: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1")
            .bind(SEARCH)
            .fetch_one(&mut sqlite)
            .await
            .unwrap();
    assert!(fts.contains("fts5") && fts.contains("recipient_email") && fts.contains("trigram"));
    let trigram: String =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = $1")
            .bind(SEARCH)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        trigram.contains("ON public.magic_links USING gin (recipient_email gin_trgm_ops)"),
        "{trigram}"
    );
    pg.indexes.remove(SEARCH).unwrap();
    for trigger in SQLITE_SEARCH_TRIGGERS {
        assert_eq!(
            lite.triggers.remove(trigger).as_deref(),
            Some("magic_links")
        );
    }
    for trigger in POSTGRES_ONLY_TRIGGERS {
        pg.triggers.remove(trigger).unwrap();
    }
    // The gate's change log: a table on SQLite, notices on PostgreSQL (same triggers).
    let log = lite
        .tables
        .remove("gate_changes")
        .expect("gate_changes on SQLite");
    assert_eq!(log.primary_key, ["id"]);
    // The shared rate limits: in the database only on PostgreSQL (on SQLite, in the one
    // instance's memory).
    let limits = pg
        .tables
        .remove("rate_limits")
        .expect("rate_limits on PostgreSQL");
    assert_eq!(limits.primary_key, ["key"]);
    // SQLite's hidden rowid of auth_sessions, a column of that name on PostgreSQL
    // (migrations/postgres/0003), numbered by an identity and unique.
    let sessions = pg.tables.get_mut("auth_sessions").unwrap();
    let rowid = sessions
        .columns
        .iter()
        .position(|(name, _, _)| name == "rowid")
        .expect("auth_sessions.rowid on PostgreSQL");
    assert_eq!(
        sessions.columns.remove(rowid),
        ("rowid".to_owned(), "integer", true)
    );
    assert!(sessions.unique.remove(&vec!["rowid".to_owned()]));

    let names = |schema: &Schema| schema.tables.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&lite), names(&pg), "the same tables");
    for (name, table) in &lite.tables {
        assert_eq!(
            Some(table),
            pg.tables.get(name),
            "table {name}: SQLite, PostgreSQL"
        );
    }
    assert_eq!(lite.indexes, pg.indexes, "indexes: SQLite, PostgreSQL");
    assert_eq!(lite.triggers, pg.triggers, "triggers: SQLite, PostgreSQL");
    // The comparison compared something.
    assert_eq!(lite.tables.len(), 8);
    assert!(lite.indexes.len() >= 13 && lite.triggers.len() >= 5);
}

async fn sqlite_schema(conn: &mut SqliteConnection) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master
          WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'
            AND name <> ?1 AND name NOT LIKE ?1 || '_%'
          ORDER BY name",
    )
    .bind(SEARCH)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (table, sql) in tables {
        let info: Vec<(String, String, bool, i64)> = sqlx::query_as(
            r#"SELECT name, type, "notnull", pk FROM pragma_table_info(?1) ORDER BY cid"#,
        )
        .bind(&table)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let mut flags = 0;
        let columns = info
            .iter()
            .map(|(name, kind, not_null, pk)| {
                let kind = match kind.as_str() {
                    "INTEGER" if sql.contains(&format!("CHECK ({name} IN (0, 1))")) => {
                        flags += 1;
                        "boolean"
                    }
                    "INTEGER" => "integer",
                    "TEXT" => "text",
                    "BLOB" => "blob",
                    other => panic!("{table}.{name} has the unmapped type {other}"),
                };
                // A primary key is NOT NULL on PostgreSQL; SQLite's rowid key cannot be
                // NULL either, and a TEXT key can only by an old SQLite quirk.
                (name.clone(), kind, *not_null || *pk > 0)
            })
            .collect();
        let mut primary_key: Vec<(i64, String)> = info
            .iter()
            .filter(|c| c.3 > 0)
            .map(|c| (c.3, c.0.clone()))
            .collect();
        primary_key.sort();

        let index_list: Vec<(String, bool, String, bool)> =
            sqlx::query_as(r#"SELECT name, "unique", origin, partial FROM pragma_index_list(?1)"#)
                .bind(&table)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        let mut unique = BTreeSet::new();
        for (index, is_unique, origin, partial) in index_list {
            let columns: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            let columns: Vec<String> = columns
                .into_iter()
                .map(|c| c.unwrap_or_else(|| "(expression)".into()))
                .collect();
            match origin.as_str() {
                "u" => {
                    unique.insert(columns);
                }
                "c" => {
                    schema
                        .indexes
                        .insert(index, (table.clone(), is_unique, partial, columns));
                }
                _ => {} // the primary key's own index
            }
        }

        let foreign_keys: Vec<(String, String, String, String)> = sqlx::query_as(
            r#"SELECT "from", "table", "to", on_delete FROM pragma_foreign_key_list(?1)"#,
        )
        .bind(&table)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        schema.tables.insert(
            table,
            Table {
                columns,
                primary_key: primary_key.into_iter().map(|(_, c)| c).collect(),
                unique,
                foreign_keys: foreign_keys.into_iter().collect(),
                checks: count_checks(&sql) - flags,
            },
        );
    }
    let triggers: Vec<(String, String)> =
        sqlx::query_as("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    schema.triggers = triggers.into_iter().collect();
    schema
}

/// `CHECK (` constraints in a table's SQL (SQLite keeps each added column's in it).
fn count_checks(sql: &str) -> usize {
    sql.match_indices("CHECK")
        .filter(|(at, _)| sql[at + 5..].trim_start().starts_with('('))
        .count()
}

async fn postgres_schema(pool: &PgPool) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
            AND table_name <> '_sqlx_migrations'
          ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for table in tables {
        let info: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable = 'NO'
               FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = $1
              ORDER BY ordinal_position",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let columns = info
            .into_iter()
            .map(|(name, kind, not_null)| {
                let kind = match kind.as_str() {
                    "bigint" => "integer",
                    "text" => "text",
                    "bytea" => "blob",
                    "boolean" => "boolean",
                    other => panic!("{table}.{name} has the unmapped type {other}"),
                };
                (name, kind, not_null)
            })
            .collect();
        // Each constraint's columns, in the constraint's order.
        let constraints: Vec<Constraint> = sqlx::query_as(
            "SELECT c.contype::text,
                        ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                               ORDER BY k.i),
                        f.relname::text,
                        (SELECT a.attname::text FROM pg_attribute a
                          WHERE a.attrelid = c.confrelid AND a.attnum = c.confkey[1]),
                        c.confdeltype::text
                   FROM pg_constraint c LEFT JOIN pg_class f ON f.oid = c.confrelid
                  WHERE c.conrelid = $1::regclass",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut shape = Table {
            columns,
            primary_key: Vec::new(),
            unique: BTreeSet::new(),
            foreign_keys: BTreeSet::new(),
            checks: 0,
        };
        for (kind, columns, to_table, to_column, on_delete) in constraints {
            match kind.as_str() {
                "p" => shape.primary_key = columns,
                "u" => {
                    shape.unique.insert(columns);
                }
                "c" => shape.checks += 1,
                "f" => {
                    let on_delete = match on_delete.as_str() {
                        "a" => "NO ACTION",
                        "r" => "RESTRICT",
                        "c" => "CASCADE",
                        "n" => "SET NULL",
                        _ => "SET DEFAULT",
                    };
                    let [from] = <[String; 1]>::try_from(columns).expect("one column");
                    shape.foreign_keys.insert((
                        from,
                        to_table.unwrap(),
                        to_column.unwrap(),
                        on_delete.into(),
                    ));
                }
                other => panic!("{table} has a constraint of kind {other}"),
            }
        }
        schema.tables.insert(table, shape);
    }

    let indexes: Vec<(String, String, bool, bool, Vec<String>)> = sqlx::query_as(
        "SELECT i.relname::text, t.relname::text, x.indisunique, x.indpred IS NOT NULL,
                ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                        FROM generate_series(1, x.indnkeyatts) k ORDER BY k)
           FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_class t ON t.oid = x.indrelid
          WHERE t.relnamespace = 'public'::regnamespace AND t.relname <> '_sqlx_migrations'
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                             WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid
                               AND c.contype IN ('p', 'u'))",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (index, table, unique, partial, columns) in indexes {
        let columns = columns
            .into_iter()
            .map(|c| {
                if c.contains('(') {
                    "(expression)".into()
                } else {
                    c
                }
            })
            .collect();
        schema
            .indexes
            .insert(index, (table, unique, partial, columns));
    }
    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.tgname::text, c.relname::text FROM pg_trigger t
           JOIN pg_class c ON c.oid = t.tgrelid
          WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    schema.triggers = triggers.into_iter().collect();
    schema
}

//! The dashboard's reads of `magic_links`: a page of invitations, one invitation's
//! summary and options, and the per-state counts. Each query is planned to read an index, never
//! the whole table (checked by the query-plan tests).

use super::applications::NAMES_OF_LINK_SQL;
use super::link_state::{self, STATE_SQL};
use crate::model::links::{Delivery, LinkState, LinkSummary};
use crate::server::db::Engine;
use sqlx::{Any, AnyPool, Executor};

/// One invitation as the list and a link's page show it.
#[derive(sqlx::FromRow)]
pub struct SummaryRow {
    pub id: i64,
    recipient_email: String,
    recipient_name: Option<String>,
    issued_by: String,
    #[sqlx(try_from = "String")]
    state: LinkState,
    delivery: String,
    delivery_error: Option<String>,
    created_at: i64,
    expires_at: i64,
    redeemed_at: Option<i64>,
    revoked_at: Option<i64>,
    revoked_by: Option<String>,
    /// The names of the applications it opens, one per line.
    applications: Option<String>,
}

impl From<SummaryRow> for LinkSummary {
    fn from(row: SummaryRow) -> Self {
        Self {
            id: row.id,
            email: row.recipient_email,
            name: row.recipient_name,
            issued_by: row.issued_by,
            state: row.state,
            delivery: Delivery::parse(&row.delivery).unwrap_or(Delivery::Pending),
            delivery_error: row.delivery_error,
            created_at: row.created_at,
            expires_at: row.expires_at,
            redeemed_at: row.redeemed_at,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
            applications: row
                .applications
                .map(|names| names.lines().map(str::to_owned).collect())
                .unwrap_or_default(),
        }
    }
}

/// The columns of a [`SummaryRow`], over `magic_links l`, its issuer `c` and its revoker
/// `r` (joined from `magic_links.revoked_by`, which both a revoke and a resend set).
macro_rules! summary_columns {
    () => {
        "l.id, l.recipient_email, l.recipient_name, COALESCE(c.name, c.email) AS issued_by,
         {STATE_SQL} AS state, l.delivery, l.delivery_error, l.created_at, l.expires_at,
         l.redeemed_at, l.revoked_at, COALESCE(r.name, r.email) AS revoked_by,
         {APPLICATIONS} AS applications"
    };
}

/// How the list finds its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPlan {
    /// Walk all invitations newest first, checking each against the filter.
    Newest,
    /// Walk the address search's matches newest first.
    Search,
    /// Read the state's own partial index (migration 0004): for a state that holds few
    /// links, where walking everything newest first would pass over a great many rows
    /// in other states to fill a page.
    ByState(LinkState),
}

/// A state with fewer links than this is listed from its own index; pending and expired
/// links come out of it by expiry, so at most this many are sorted.
pub const FEW_IN_STATE: i64 = 10_000;

/// Whether `state` holds fewer than [`FEW_IN_STATE`] invitations; counts at most that
/// many entries of its index.
pub async fn few_in_state(pool: &AnyPool, state: LinkState, at: i64) -> sqlx::Result<bool> {
    // Assembled from fixed fragments only: the state's index and condition.
    let counted: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM (SELECT 1 FROM {} WHERE l.purpose = 'invite' AND {} LIMIT $2)
                           AS counted",
        by_index(Engine::of(pool), state),
        link_state::condition(state),
    ))
    .bind(at)
    .bind(FEW_IN_STATE)
    .fetch_one(pool)
    .await?;
    Ok(counted < FEW_IN_STATE)
}

/// `magic_links l` read through `state`'s partial index. SQLite is told to
/// (`INDEXED BY`); PostgreSQL's planner picks it from the condition.
fn by_index(engine: Engine, state: LinkState) -> String {
    match engine {
        Engine::Sqlite => format!("magic_links l INDEXED BY {}", link_state::index(state)),
        Engine::Postgres => "magic_links l".to_owned(),
    }
}

/// The list's query; parameters: now, cursor, search, state, limit. Public so the tests
/// can check its query plans. Assembled from fixed fragments only.
pub fn list_sql(plan: ListPlan, engine: Engine) -> String {
    let substring = "($3 IS NULL OR instr(l.recipient_email, $3) > 0)";
    let (from, search, order) = match (plan, engine) {
        (ListPlan::Search, Engine::Sqlite) => (
            "magic_links_search s JOIN magic_links l ON l.id = s.rowid".to_owned(),
            // One quoted phrase: the search's characters are matched literally.
            "s.magic_links_search MATCH '\"' || replace($3, '\"', '\"\"') || '\"'".to_owned(),
            "s.rowid DESC",
        ),
        // The trigram index (migrations/postgres) serves ILIKE; the search's own `%`, `_`
        // and `\` are matched literally, and case folds as FTS5's trigrams fold it.
        (ListPlan::Search, Engine::Postgres) => (
            "magic_links l".to_owned(),
            "l.recipient_email ILIKE '%' || replace(replace(replace($3, '\\', '\\\\'),
                 '%', '\\%'), '_', '\\_') || '%'"
                .to_owned(),
            "l.id DESC",
        ),
        (ListPlan::Newest, _) => (
            "magic_links l".to_owned(),
            substring.to_owned(),
            "l.id DESC",
        ),
        (ListPlan::ByState(state), _) => (
            by_index(engine, state),
            format!("{} AND {substring}", link_state::condition(state)),
            "l.id DESC",
        ),
    };
    format!(
        concat!(
            "SELECT ",
            summary_columns!(),
            "
         FROM {from} JOIN coworkers c ON c.id = l.coworker_id
              LEFT JOIN coworkers r ON r.id = l.revoked_by
         WHERE l.purpose = 'invite'
           AND ($2 IS NULL OR l.id < $2)
           AND {search}
           AND ($4 IS NULL OR {STATE_SQL} = $4)
         ORDER BY {order} LIMIT $5"
        ),
        from = from,
        search = search,
        order = order,
        STATE_SQL = STATE_SQL,
        APPLICATIONS = NAMES_OF_LINK_SQL,
    )
}

/// A page of invitations by `plan`: at most `limit`, below id `before`, whose address
/// contains `query`, in `state`.
pub async fn page(
    pool: &AnyPool,
    plan: ListPlan,
    at: i64,
    before: Option<i64>,
    query: Option<&str>,
    state: Option<LinkState>,
    limit: i64,
) -> sqlx::Result<Vec<SummaryRow>> {
    sqlx::query_as(&list_sql(plan, Engine::of(pool)))
        .bind(at)
        .bind(before)
        .bind(query)
        .bind(state.map(LinkState::as_str))
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Invitation `id`'s summary as of `at`.
pub async fn summary(pool: &AnyPool, id: i64, at: i64) -> sqlx::Result<Option<SummaryRow>> {
    sqlx::query_as(&format!(
        concat!(
            "SELECT ",
            summary_columns!(),
            "
         FROM magic_links l JOIN coworkers c ON c.id = l.coworker_id
              LEFT JOIN coworkers r ON r.id = l.revoked_by
         WHERE l.id = $2 AND l.purpose = 'invite'"
        ),
        STATE_SQL = STATE_SQL,
        APPLICATIONS = NAMES_OF_LINK_SQL,
    ))
    .bind(at)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The invitations in each state as of `at`, in [`LinkState::ALL`]'s order.
pub async fn counts(pool: &AnyPool, at: i64) -> sqlx::Result<[i64; 4]> {
    let row: (i64, i64, i64, i64) = sqlx::query_as(link_state::COUNTS_SQL)
        .bind(at)
        .fetch_one(pool)
        .await?;
    Ok([row.0, row.1, row.2, row.3])
}

/// A link's options and the links either side of it in its chain (resend, renewal).
/// Public for the query-plan test.
pub const DETAIL_SQL: &str =
    "SELECT l.message, l.destination, l.session_minutes, l.renewal_allowed, l.replaces,
            (SELECT n.id FROM magic_links n WHERE n.replaces = l.id ORDER BY n.id DESC LIMIT 1)
                AS replaced_by
     FROM magic_links l WHERE l.id = $1";

/// What [`DETAIL_SQL`] reads.
#[derive(sqlx::FromRow)]
pub struct Options {
    pub message: Option<String>,
    pub destination: Option<String>,
    pub session_minutes: Option<i64>,
    #[sqlx(try_from = "crate::server::store::flag::Flag")]
    pub renewal_allowed: bool,
    pub replaces: Option<i64>,
    pub replaced_by: Option<i64>,
}

/// Link `id`'s options and chain.
pub async fn options<'e, E>(executor: E, id: i64) -> sqlx::Result<Option<Options>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(DETAIL_SQL)
        .bind(id)
        .fetch_optional(executor)
        .await
}

//! The `magic_links` table: a link row, its insert (one statement, for every kind of
//! link), its lookups and the changes made to it. Listing and counting live in
//! [`super::link_list`]; the state rule in [`super::link_state`].

use crate::model::events::EventKind;
use crate::model::links::{LinkState, Purpose};
use crate::server::codes::{CodeKey, PlainCode};
use crate::server::db::numbered;
use crate::server::group::{self, Job, Query};
use crate::server::tokens::{PlainToken, TokenHash};
use sqlx::{Any, AnyConnection, Executor};
use std::sync::OnceLock;

/// The stored code of a link's purpose.
pub fn purpose_code(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Invite => "invite",
        Purpose::Signin => "signin",
    }
}

/// Everything a new link row holds.
pub struct LinkSpec<'a> {
    pub purpose: Purpose,
    pub coworker_id: i64,
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub message: Option<&'a str>,
    pub lifetime_secs: i64,
    pub destination: Option<&'a str>,
    pub session_minutes: Option<i64>,
    pub renewal_allowed: bool,
    pub replaces: Option<i64>,
}

/// A link row just stored, with the only plaintext copies of its token and its code.
pub struct Created {
    pub id: i64,
    pub token: PlainToken,
    pub code: Option<PlainCode>,
    pub expires_at: i64,
}

/// The insert of a new link row, with plain `?` parameters in column order; callers add
/// their `RETURNING`. [`NewLink::bind_row`] binds it.
macro_rules! insert_link_sql {
    () => {
        "INSERT INTO magic_links
             (token_hash, purpose, recipient_email, recipient_name, coworker_id, message,
              created_at, expires_at, destination, session_minutes, renewal_allowed, replaces,
              code_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
}

/// A new link row's values.
pub struct NewLink {
    token_hash: Vec<u8>,
    purpose: &'static str,
    email: String,
    name: Option<String>,
    coworker_id: i64,
    message: Option<String>,
    at: i64,
    expires_at: i64,
    destination: Option<String>,
    session_minutes: Option<i64>,
    renewal_allowed: bool,
    replaces: Option<i64>,
    code_hash: Option<Vec<u8>>,
    /// The applications it opens, as a JSON array of ids (for the issue job).
    applications: String,
}

impl std::fmt::Debug for NewLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewLink { .. }")
    }
}

impl NewLink {
    pub fn new(spec: &LinkSpec<'_>, token: &PlainToken, at: i64) -> Self {
        Self {
            token_hash: token.hashed().as_bytes().to_vec(),
            purpose: purpose_code(spec.purpose),
            email: spec.email.to_owned(),
            name: spec.name.map(str::to_owned),
            coworker_id: spec.coworker_id,
            message: spec.message.map(str::to_owned),
            at,
            expires_at: at + spec.lifetime_secs,
            destination: spec.destination.map(str::to_owned),
            session_minutes: spec.session_minutes,
            renewal_allowed: spec.renewal_allowed,
            replaces: spec.replaces,
            code_hash: None,
            applications: "[]".to_owned(),
        }
    }

    /// The link's one-time code, kept as `key` hashes it.
    #[must_use]
    pub fn with_code(mut self, key: &CodeKey, token: &PlainToken, code: &PlainCode) -> Self {
        self.code_hash = Some(key.hash(&token.hashed(), code));
        self
    }

    /// The applications the new invitation opens.
    #[must_use]
    pub fn opening(mut self, application_ids: &[i64]) -> Self {
        self.applications = format!(
            "[{}]",
            application_ids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        self
    }

    /// Binds the values of [`insert_link_sql`], in its column order.
    fn bind_row<R>(self, query: Query<R>) -> Query<R> {
        query
            .bind(self.token_hash)
            .bind(self.purpose)
            .bind(self.email)
            .bind(self.name)
            .bind(self.coworker_id)
            .bind(self.message)
            .bind(self.at)
            .bind(self.expires_at)
            .bind(self.destination)
            .bind(self.session_minutes)
            .bind(self.renewal_allowed)
            .bind(self.replaces)
            .bind(self.code_hash)
    }
}

/// A new invitation with the applications it opens and its `issued` event, committed with
/// whatever other writes of its kind are waiting ([`group`]). An application removed
/// meanwhile is left out rather than failing the batch (`link_applications` has no rowid,
/// so `last_insert_rowid()` still names the link for the event).
impl Job for NewLink {
    /// The job's number and the new link's id.
    type Row = (i64, i64);
    const DOING: &'static str = "storing magic links";
    const QUEUE: &'static str = "issues";

    fn statements(number: usize) -> String {
        // Assembled from fixed fragments only: the insert and the job's number.
        format!(
            "
            {} RETURNING {number}, id;
            INSERT INTO link_applications (link_id, application_id)
            SELECT last_insert_rowid(), a.id FROM json_each(?) j JOIN applications a ON a.id = j.value;
            INSERT INTO link_events (link_id, at, kind, coworker_id)
            VALUES (last_insert_rowid(), ?, ?, ?);",
            insert_link_sql!()
        )
    }

    fn bind(self, query: Query<Self::Row>) -> Query<Self::Row> {
        let (at, coworker_id) = (self.at, self.coworker_id);
        let applications = self.applications.clone();
        self.bind_row(query)
            .bind(applications)
            .bind(at)
            .bind(EventKind::Issued.code())
            .bind(coworker_id)
    }

    fn batch_sql(count: usize) -> &'static str {
        static BATCHES: OnceLock<Vec<String>> = OnceLock::new();
        group::batch_sql(&BATCHES, Self::statements, count)
    }

    /// The same three writes as one statement; the applications come as a JSON array.
    fn alone_sql() -> &'static str {
        static ALONE: OnceLock<String> = OnceLock::new();
        ALONE.get_or_init(|| {
            numbered(concat!(
                "WITH link AS (",
                insert_link_sql!(),
                " RETURNING id),
                 opens AS (INSERT INTO link_applications (link_id, application_id)
                           SELECT link.id, a.id FROM link, applications a
                            WHERE a.id IN (SELECT value::bigint
                                             FROM jsonb_array_elements_text(CAST(? AS jsonb)))),
                 event AS (INSERT INTO link_events (link_id, at, kind, coworker_id)
                           SELECT id, ?, ?, ? FROM link)
                 SELECT 0, id FROM link"
            ))
        })
    }
}

/// Stores a new link with a fresh token inside a write transaction, and a fresh one-time
/// code when `code_key` is given (a link that is mailed).
pub async fn insert(
    conn: &mut AnyConnection,
    spec: &LinkSpec<'_>,
    at: i64,
    code_key: Option<&CodeKey>,
) -> sqlx::Result<Created> {
    static INSERT: OnceLock<String> = OnceLock::new();
    let token = PlainToken::generate();
    let code = code_key.map(|_| PlainCode::generate());
    let mut row = NewLink::new(spec, &token, at);
    if let (Some(key), Some(code)) = (code_key, &code) {
        row = row.with_code(key, &token, code);
    }
    let sql = INSERT.get_or_init(|| numbered(concat!(insert_link_sql!(), " RETURNING id")));
    let (id,): (i64,) = row.bind_row(sqlx::query_as(sql)).fetch_one(conn).await?;
    Ok(Created {
        id,
        token,
        code,
        expires_at: at + spec.lifetime_secs,
    })
}

/// A stored link with its issuer and its state at the time asked, as the landing page,
/// redeem, resend and renewal need it.
#[derive(sqlx::FromRow)]
pub struct StoredLink {
    pub id: i64,
    pub purpose: String,
    pub recipient_email: String,
    pub recipient_name: Option<String>,
    pub coworker_id: i64,
    pub message: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    #[sqlx(try_from = "String")]
    pub state: LinkState,
    pub destination: Option<String>,
    pub session_minutes: Option<i64>,
    #[sqlx(try_from = "crate::server::store::flag::Flag")]
    pub renewal_allowed: bool,
    pub inviter_email: String,
    pub inviter_name: Option<String>,
    #[sqlx(try_from = "crate::server::store::flag::Flag")]
    pub inviter_active: bool,
}

impl StoredLink {
    /// Whether its holder may ask for a new link: coworkers have not turned renewal off,
    /// and the coworker who issued it is still active. A departed coworker's invitations
    /// are not renewed (their notice would reach someone no longer with the organisation,
    /// and a renewal would extend access nobody inside now vouches for); a coworker can
    /// still Resend one.
    pub fn renewal_open(&self) -> bool {
        self.renewal_allowed && self.inviter_active
    }

    /// Whether its holder may ask for a new link: a used or expired invitation whose
    /// issuer allows renewal and is still a coworker.
    pub fn can_renew(&self) -> bool {
        self.is_invite()
            && self.renewal_open()
            && matches!(self.state, LinkState::Expired | LinkState::Redeemed)
    }

    pub fn is_invite(&self) -> bool {
        self.purpose == purpose_code(Purpose::Invite)
    }

    pub fn inviter(&self) -> &str {
        self.inviter_name.as_deref().unwrap_or(&self.inviter_email)
    }

    /// A new link in this one's place: same address, options and expiry length.
    pub fn successor(&self, max_lifetime_secs: i64) -> LinkSpec<'_> {
        LinkSpec {
            purpose: Purpose::Invite,
            coworker_id: self.coworker_id,
            email: &self.recipient_email,
            name: self.recipient_name.as_deref(),
            message: self.message.as_deref(),
            lifetime_secs: (self.expires_at - self.created_at).min(max_lifetime_secs),
            destination: self.destination.as_deref(),
            session_minutes: self.session_minutes,
            renewal_allowed: self.renewal_allowed,
            replaces: Some(self.id),
        }
    }
}

/// A stored link by `WHERE` clause, `$1` being now and `$2` the key.
macro_rules! stored_link_sql {
    ($where:literal) => {
        concat!(
            "SELECT l.id, l.purpose, l.recipient_email, l.recipient_name,
                    l.coworker_id, l.message, l.created_at, l.expires_at, ",
            $crate::server::store::link_state::state_sql!(),
            " AS state, l.destination, l.session_minutes, l.renewal_allowed,
                    c.email AS inviter_email, c.name AS inviter_name,
                    c.deactivated_at IS NULL AS inviter_active
             FROM magic_links l JOIN coworkers c ON c.id = l.coworker_id ",
            $where
        )
    };
}

/// The link whose token hashes to `hash`, in its state at `at`.
pub async fn by_hash<'e, E>(
    executor: E,
    hash: &TokenHash,
    at: i64,
) -> sqlx::Result<Option<StoredLink>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(stored_link_sql!("WHERE l.token_hash = $2"))
        .bind(at)
        .bind(hash.as_bytes())
        .fetch_optional(executor)
        .await
}

/// Link `id`, in its state at `at`.
pub async fn by_id<'e, E>(executor: E, id: i64, at: i64) -> sqlx::Result<Option<StoredLink>>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(stored_link_sql!("WHERE l.id = $2"))
        .bind(at)
        .bind(id)
        .fetch_optional(executor)
        .await
}

/// Marks invitation `id` revoked by coworker `by`, unless it already is; answers whether
/// it changed. With `invites_only` false, any link (a resend revokes the one it replaces).
pub async fn mark_revoked(
    conn: &mut AnyConnection,
    id: i64,
    by: i64,
    at: i64,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE magic_links SET revoked_at = $2, revoked_by = $3
         WHERE id = $1 AND purpose = 'invite' AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .bind(by)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Revokes coworker `coworker_id`'s unused sign-in links: a removed coworker's must not
/// let them back in.
pub async fn revoke_unused_signins(
    conn: &mut AnyConnection,
    coworker_id: i64,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE magic_links SET revoked_at = $2
         WHERE coworker_id = $1 AND purpose = 'signin' AND redeemed_at IS NULL
           AND revoked_at IS NULL",
    )
    .bind(coworker_id)
    .bind(at)
    .execute(conn)
    .await
    .map(drop)
}

/// Turns new-link requests for invitation `id` on or off; answers whether it changed.
pub async fn set_renewal(conn: &mut AnyConnection, id: i64, allowed: bool) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE magic_links SET renewal_allowed = $2
         WHERE id = $1 AND purpose = 'invite' AND renewal_allowed <> $2",
    )
    .bind(id)
    .bind(allowed)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// The link a redeem won: marked used at `at` because it was pending.
#[derive(sqlx::FromRow)]
pub struct Won {
    pub id: i64,
    pub purpose: String,
    pub destination: Option<String>,
}

/// Marks the link whose token hashes to `hash` used at `at` if it is pending, whatever
/// its purpose. Run [`super::sessions::open`] next, on the same connection.
pub async fn mark_redeemed(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    at: i64,
) -> sqlx::Result<Option<Won>> {
    sqlx::query_as(
        "UPDATE magic_links SET redeemed_at = $2
         WHERE token_hash = $1 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $2
         RETURNING id, purpose, destination",
    )
    .bind(hash.as_bytes())
    .bind(at)
    .fetch_optional(conn)
    .await
}

/// Forgets the token and code hashes of links dead (used, revoked or expired, whichever came
/// first) at or before `before`; the rows stay.
pub async fn forget_dead_token_hashes(conn: &mut AnyConnection, before: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE magic_links SET token_hash = NULL, code_hash = NULL
         WHERE token_hash IS NOT NULL
           AND min(coalesce(redeemed_at, expires_at), coalesce(revoked_at, expires_at), expires_at)
               <= $1",
    )
    .bind(before)
    .execute(conn)
    .await?
    .rows_affected())
}

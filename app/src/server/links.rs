//! Magic links: issuing, listing, revoking, looking at and redeeming them.

use super::auth::{self, Holder};
use super::coworkers::{self, Coworker};
use super::email::EmailAddress;
use super::events::{self, Client, Event};
use super::group::{self, GroupCommit, Job};
use super::mail::{Invitation, Postman, RenewalNotice};
use super::redeemer::Redeem;
use super::state::AppState;
use super::tokens::{PlainToken, TokenHash};
use super::{db, now, OrInternal};
use crate::error::AppError;
use crate::model::{
    Delivery, EventKind, ExpiresIn, IssuedLink, LinkCounts, LinkDetails, LinkPage, LinkPreview,
    LinkSession, LinkState, LinkSummary, Purpose, Redeemed, Renewed, SessionLifetime,
};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::sync::OnceLock;
use tracing::{info, instrument, warn};

/// Links per page of the dashboard table.
pub const PAGE_SIZE: i64 = 50;
pub const MAX_NAME_CHARS: usize = 100;
const MAX_MESSAGE_CHARS: usize = 2000;
const MAX_QUERY_CHARS: usize = 254;
const MAX_DESTINATION_BYTES: usize = 500;
/// The holder of a dead invitation may ask for a new one this often.
pub const RENEWAL_INTERVAL_SECS: i64 = 10 * 60;

/// An invitation as the coworker asked for it, already parsed.
pub struct NewInvite {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub message: Option<String>,
    pub expires_in: ExpiresIn,
    /// Where the invitee lands after signing in; `None` is `/welcome`.
    pub destination: Option<String>,
    pub session: SessionLifetime,
    pub renewal_allowed: bool,
}

/// The raw `issue_link` parameters.
#[derive(Default)]
pub struct InviteForm<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub message: Option<&'a str>,
    pub expires_in: &'a str,
    pub destination: Option<&'a str>,
    pub session_lifetime: Option<&'a str>,
    pub renewal: Option<&'a str>,
}

impl NewInvite {
    /// Parses the `issue_link` parameters; every refusal names its field.
    pub fn parse(form: &InviteForm<'_>) -> Result<Self, AppError> {
        let email = EmailAddress::parse("email", form.email)?;
        let name = optional_text("name", form.name, MAX_NAME_CHARS, false)?;
        let message = optional_text("message", form.message, MAX_MESSAGE_CHARS, true)?;
        let expires_in = ExpiresIn::parse(form.expires_in.trim()).ok_or_else(|| {
            AppError::invalid("expires_in", "Choose an expiry: 15m, 1h, 24h or 7d.")
        })?;
        let destination = parse_destination(form.destination)?;
        let session = match form
            .session_lifetime
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => SessionLifetime::DEFAULT,
            Some(value) => SessionLifetime::parse(value).ok_or_else(|| {
                AppError::invalid(
                    "session_lifetime",
                    "Choose a session lifetime: 8h, 7d or 30d.",
                )
            })?,
        };
        let renewal_allowed = parse_renewal(form.renewal)?.unwrap_or(true);
        Ok(Self {
            email,
            name,
            message,
            expires_in,
            destination,
            session,
            renewal_allowed,
        })
    }
}

/// `renewal`: `allowed` or `off`; `None` when not given.
pub fn parse_renewal(value: Option<&str>) -> Result<Option<bool>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some("allowed") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(_) => Err(AppError::invalid(
            "renewal",
            "New-link requests must be allowed or off.",
        )),
    }
}

/// A destination is a path on this site: one leading `/`, then no backslash, no
/// whitespace or control character, and no encoded slash that a server might decode
/// into `//`. Anything that could send the browser to another site is refused.
pub fn parse_destination(value: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let refuse = |message: &str| Err(AppError::invalid("destination", message));
    if value.len() > MAX_DESTINATION_BYTES {
        return refuse("Keep the destination under 500 characters.");
    }
    let lowered = value.to_ascii_lowercase();
    if !value.starts_with('/')
        || value.starts_with("//")
        || value.contains('\\')
        || lowered.contains("%2f")
        || lowered.contains("%5c")
        || value.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return refuse(
            "The destination must be a path on this site that starts with a single /, like /projects/42.",
        );
    }
    Ok(Some(value.to_owned()))
}

/// Trims optional free text; empty becomes `None`. Control characters are refused, except
/// line breaks where `multiline` allows them.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
    multiline: bool,
) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max_chars {
        return Err(AppError::invalid(
            field,
            format!("Keep this under {max_chars} characters."),
        ));
    }
    let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\r' || c == '\t'));
    if !value.chars().all(allowed) {
        return Err(AppError::invalid(
            field,
            "This contains characters that are not allowed.",
        ));
    }
    Ok(Some(value.replace("\r\n", "\n")))
}

/// Everything a new link row holds.
struct LinkSpec<'a> {
    purpose: Purpose,
    coworker_id: i64,
    email: &'a str,
    name: Option<&'a str>,
    message: Option<&'a str>,
    lifetime_secs: i64,
    destination: Option<&'a str>,
    session_minutes: Option<i64>,
    renewal_allowed: bool,
    replaces: Option<i64>,
}

/// A link row just stored, with the only plaintext copy of its token.
struct Created {
    id: i64,
    token: PlainToken,
    expires_at: i64,
}

/// The insert of a new link row, with plain `?` parameters in column order; callers add
/// their `RETURNING`. [`NewLink::bind_row`] binds it.
macro_rules! insert_link_sql {
    () => {
        "INSERT INTO magic_links
             (token_hash, purpose, recipient_email, recipient_name, coworker_id, message,
              created_at, expires_at, destination, session_minutes, renewal_allowed, replaces)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
}

impl std::fmt::Debug for NewLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewLink { .. }")
    }
}

impl NewLink {
    fn new(spec: &LinkSpec<'_>, token: &PlainToken, at: i64) -> Self {
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
        }
    }

    /// Binds the values of [`insert_link_sql`], in its column order.
    fn bind_row<R>(self, query: group::Query<R>) -> group::Query<R> {
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
    }
}

/// A new invitation with its `issued` event, committed with whatever other writes of its
/// kind are waiting ([`group`]).
impl Job for NewLink {
    /// The job's number and the new link's id.
    type Row = (i64, i64);
    const DOING: &'static str = "storing magic links";

    fn statements(number: usize) -> String {
        format!(
            "
            {} RETURNING {number}, id;
            INSERT INTO link_events (link_id, at, kind, coworker_id)
            VALUES (last_insert_rowid(), ?, ?, ?);",
            insert_link_sql!()
        )
    }

    fn bind(self, query: group::Query<Self::Row>) -> group::Query<Self::Row> {
        let (at, coworker_id) = (self.at, self.coworker_id);
        self.bind_row(query)
            .bind(at)
            .bind(EventKind::Issued.code())
            .bind(coworker_id)
    }

    fn batch_sql(count: usize) -> &'static str {
        static BATCHES: OnceLock<Vec<String>> = OnceLock::new();
        group::batch_sql(&BATCHES, Self::statements, count)
    }
}

/// A delivery's outcome on its link and on the link's trail.
pub struct DeliveryOutcome {
    id: i64,
    delivery: Delivery,
    error: Option<String>,
    at: i64,
}

impl std::fmt::Debug for DeliveryOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryOutcome { .. }")
    }
}

impl Job for DeliveryOutcome {
    /// Nothing comes back.
    type Row = (i64,);
    const DOING: &'static str = "recording deliveries";

    fn statements(_: usize) -> String {
        "
        UPDATE magic_links SET delivery = ?, delivery_error = ? WHERE id = ?;
        INSERT INTO link_events (link_id, at, kind, detail) VALUES (?, ?, ?, ?);"
            .to_owned()
    }

    fn bind(self, query: group::Query<Self::Row>) -> group::Query<Self::Row> {
        let kind = match &self.error {
            None => EventKind::MailSent,
            Some(_) => EventKind::MailFailed,
        };
        let detail = self
            .error
            .as_deref()
            .map(|e| events::truncate(e, events::MAX_DETAIL_BYTES).to_owned());
        query
            .bind(self.delivery.as_str())
            .bind(self.error)
            .bind(self.id)
            .bind(self.id)
            .bind(self.at)
            .bind(kind.code())
            .bind(detail)
    }

    fn batch_sql(count: usize) -> &'static str {
        static BATCHES: OnceLock<Vec<String>> = OnceLock::new();
        group::batch_sql(&BATCHES, Self::statements, count)
    }
}

/// Stores a new link inside `tx`.
async fn create(
    tx: &mut Transaction<'static, Sqlite>,
    spec: &LinkSpec<'_>,
    at: i64,
) -> sqlx::Result<Created> {
    let token = PlainToken::generate();
    let (id,): (i64,) = NewLink::new(spec, &token, at)
        .bind_row(sqlx::query_as(concat!(insert_link_sql!(), " RETURNING id")))
        .fetch_one(&mut **tx)
        .await?;
    Ok(Created {
        id,
        token,
        expires_at: at + spec.lifetime_secs,
    })
}

fn purpose_code(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Invite => "invite",
        Purpose::Signin => "signin",
    }
}

/// Issues an invitation and mails it. A failed delivery is recorded on the link and
/// returned to the coworker; the link itself is kept so it can be resent or revoked.
#[instrument(skip_all, fields(coworker = coworker.id))]
pub async fn issue(
    state: &AppState,
    coworker: &Coworker,
    invite: NewInvite,
) -> Result<IssuedLink, AppError> {
    let lifetime = invite.expires_in.seconds();
    if lifetime as u64 > state.config.max_link_lifetime.as_secs() {
        return Err(AppError::invalid(
            "expires_in",
            "That expiry is longer than this server allows; choose a shorter one.",
        ));
    }
    let session_minutes = invite.session.minutes();
    if session_minutes as u64 * 60 > state.config.invitee_session_lifetime.as_secs() {
        return Err(AppError::invalid(
            "session_lifetime",
            "That session lifetime is longer than this server allows; choose a shorter one.",
        ));
    }
    let spec = LinkSpec {
        purpose: Purpose::Invite,
        coworker_id: coworker.id,
        email: invite.email.as_str(),
        name: invite.name.as_deref(),
        message: invite.message.as_deref(),
        lifetime_secs: lifetime,
        destination: invite.destination.as_deref(),
        session_minutes: Some(session_minutes),
        renewal_allowed: invite.renewal_allowed,
        replaces: None,
    };
    // The link and its `issued` event, committed with other issues that are waiting.
    let at = now();
    let token = PlainToken::generate();
    let id = state
        .issues
        .commit(NewLink::new(&spec, &token, at))
        .await?
        .first()
        .map(|&(_, id)| id)
        .ok_or(AppError::Internal)?;
    let created = Created {
        id,
        token,
        expires_at: at + spec.lifetime_secs,
    };
    info!(link_id = created.id, to = %invite.email.masked(), "link issued");
    mail_invitation(
        state,
        &spec,
        &created,
        (coworker.display_name(), &coworker.email),
    )
    .await
}

/// Mails a freshly created invitation and answers what the coworker sees this once.
async fn mail_invitation(
    state: &AppState,
    spec: &LinkSpec<'_>,
    created: &Created,
    (inviter_name, inviter_email): (&str, &str),
) -> Result<IssuedLink, AppError> {
    let url = created.token.link(&state.config.public_url);
    let to = EmailAddress::parse("email", spec.email)?;
    let letter = state
        .postman
        .invitation(&Invitation {
            to: &to,
            to_name: spec.name,
            inviter_name,
            inviter_email,
            message: spec.message,
            url: &url,
            expires_at: created.expires_at,
            lifetime_secs: spec.lifetime_secs,
        })
        .or_internal("composing the invitation")?;
    let (delivery, delivery_error) =
        deliver(&state.deliveries, &state.postman, created.id, letter).await?;
    Ok(IssuedLink {
        id: created.id,
        email: spec.email.to_owned(),
        expires_at: created.expires_at,
        delivery,
        delivery_error,
        url,
    })
}

/// Sends a letter for link `id` and records the outcome on the link and its trail.
///
/// The work runs in its own task: if the coworker's browser goes away mid-request, the
/// request is dropped but the mail is still sent and its outcome still recorded, so no
/// link is left "Sending" for ever.
async fn deliver(
    deliveries: &GroupCommit<DeliveryOutcome>,
    postman: &Postman,
    id: i64,
    letter: super::mail::Letter,
) -> Result<(Delivery, Option<String>), AppError> {
    let (deliveries, postman) = (deliveries.clone(), postman.clone());
    tokio::spawn(async move { deliver_now(&deliveries, &postman, id, letter).await })
        .await
        .or_internal("delivering a mail")?
}

async fn deliver_now(
    deliveries: &GroupCommit<DeliveryOutcome>,
    postman: &Postman,
    id: i64,
    letter: super::mail::Letter,
) -> Result<(Delivery, Option<String>), AppError> {
    let (delivery, error) = match postman.send(letter).await {
        Ok(()) => (Delivery::Sent, None),
        Err(error) => {
            warn!(link_id = id, %error, "mail delivery failed");
            (Delivery::Failed, Some(error))
        }
    };
    // The outcome on the link and on its trail, committed with other outcomes waiting.
    deliveries
        .commit(DeliveryOutcome {
            id,
            delivery,
            error: error.clone(),
            at: now(),
        })
        .await?;
    Ok((delivery, error))
}

/// The dashboard's filter.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub state: Option<LinkState>,
    pub query: Option<String>,
    /// List links with an id below this one.
    pub before: Option<i64>,
}

impl ListFilter {
    pub fn parse(
        status: Option<&str>,
        q: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, AppError> {
        let state = match status
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "all")
        {
            None => None,
            Some(value) => Some(LinkState::parse(value).ok_or_else(|| {
                AppError::invalid(
                    "status",
                    "Status must be pending, redeemed, expired or revoked.",
                )
            })?),
        };
        let query = q
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
        if query
            .as_ref()
            .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
        {
            return Err(AppError::invalid("q", "The search is too long."));
        }
        // No address holds a control character; SQLite's full-text search would also read
        // a NUL as the end of the search.
        if query
            .as_ref()
            .is_some_and(|q| q.chars().any(char::is_control))
        {
            return Err(AppError::invalid(
                "q",
                "The search contains characters that are not allowed.",
            ));
        }
        let before = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(cursor) => Some(
                cursor
                    .parse::<i64>()
                    .ok()
                    .filter(|&id| id > 0)
                    .ok_or_else(|| AppError::invalid("cursor", "The page cursor is not valid."))?,
            ),
        };
        Ok(Self {
            state,
            query,
            before,
        })
    }
}

/// The SQL for a link's state, `?1` being now. Revoked wins over redeemed: a revoked
/// link's sessions are gone, whatever happened before.
const STATE_SQL: &str = "CASE
    WHEN l.revoked_at IS NOT NULL THEN 'revoked'
    WHEN l.redeemed_at IS NOT NULL THEN 'redeemed'
    WHEN l.expires_at <= ?1 THEN 'expired'
    ELSE 'pending' END";

/// Who revoked a link, as the list and a link's summary name them: `r` is the revoker's
/// `coworkers` row, joined by its primary key from `magic_links.revoked_by`, which both a
/// revoke and a resend set.
const REVOKED_BY_SQL: &str = "COALESCE(r.name, r.email)";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    recipient_email: String,
    recipient_name: Option<String>,
    issued_by: String,
    state: String,
    delivery: String,
    delivery_error: Option<String>,
    created_at: i64,
    expires_at: i64,
    redeemed_at: Option<i64>,
    revoked_at: Option<i64>,
    revoked_by: Option<String>,
}

impl From<SummaryRow> for LinkSummary {
    fn from(row: SummaryRow) -> Self {
        Self {
            id: row.id,
            email: row.recipient_email,
            name: row.recipient_name,
            issued_by: row.issued_by,
            state: LinkState::parse(&row.state).unwrap_or(LinkState::Pending),
            delivery: Delivery::parse(&row.delivery).unwrap_or(Delivery::Pending),
            delivery_error: row.delivery_error,
            created_at: row.created_at,
            expires_at: row.expires_at,
            redeemed_at: row.redeemed_at,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
        }
    }
}

/// Every coworker sees every invitation of the organisation, newest first.
///
/// Without a search, or with one shorter than 3 characters, the query walks the
/// `(purpose, id DESC)` index from the newest link and stops after one page. A longer
/// search walks the trigram index of addresses (migration 0003) newest first instead,
/// so finding "acme.com" among a million links reads only the links that contain it.
pub async fn list(pool: &SqlitePool, filter: &ListFilter) -> Result<LinkPage, AppError> {
    let trigram = filter
        .query
        .as_ref()
        .is_some_and(|q| q.chars().count() >= 3);
    let plan = match filter.state {
        Some(state) if few_in_state(pool, state).await? => ListPlan::ByState(state),
        _ if trigram => ListPlan::Search,
        _ => ListPlan::Newest,
    };
    let mut rows: Vec<SummaryRow> = sqlx::query_as(&list_sql(plan))
        .bind(now())
        .bind(filter.before)
        .bind(filter.query.as_deref())
        .bind(filter.state.map(|s| s.label().to_lowercase()))
        .bind(PAGE_SIZE + 1)
        .fetch_all(pool)
        .await
        .or_internal("listing links")?;
    let next_cursor = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|row| row.id.to_string())
    } else {
        None
    };
    Ok(LinkPage {
        links: rows.into_iter().map(LinkSummary::from).collect(),
        next_cursor,
    })
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

/// The index that holds exactly one state's links, and the condition that selects them
/// from it (written as the index's own condition, so SQLite can use it). `?1` is now.
fn state_index(state: LinkState) -> (&'static str, &'static str) {
    match state {
        LinkState::Pending => (
            "magic_links_open",
            "l.redeemed_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > ?1",
        ),
        LinkState::Expired => (
            "magic_links_open",
            "l.redeemed_at IS NULL AND l.revoked_at IS NULL AND l.expires_at <= ?1",
        ),
        LinkState::Redeemed => (
            "magic_links_redeemed",
            "l.redeemed_at IS NOT NULL AND l.revoked_at IS NULL",
        ),
        LinkState::Revoked => ("magic_links_revoked", "l.revoked_at IS NOT NULL"),
    }
}

/// Whether `state` holds fewer than [`FEW_IN_STATE`] links; counts at most that many
/// entries of its index.
async fn few_in_state(pool: &SqlitePool, state: LinkState) -> Result<bool, AppError> {
    let (index, condition) = state_index(state);
    let counted: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM (SELECT 1 FROM magic_links l INDEXED BY {index}
                                WHERE l.purpose = 'invite' AND {condition} LIMIT ?2)"
    ))
    .bind(now())
    .bind(FEW_IN_STATE)
    .fetch_one(pool)
    .await
    .or_internal("counting links in a state")?;
    Ok(counted < FEW_IN_STATE)
}

/// The list's query; parameters: now, cursor, search, state, limit. Public so the tests
/// can check its query plans.
pub fn list_sql(plan: ListPlan) -> String {
    let substring = "(?3 IS NULL OR instr(l.recipient_email, ?3) > 0)";
    let (from, search, order) = match plan {
        ListPlan::Search => (
            "magic_links_search s JOIN magic_links l ON l.id = s.rowid".to_owned(),
            // One quoted phrase: the search's characters are matched literally.
            "s.magic_links_search MATCH '\"' || replace(?3, '\"', '\"\"') || '\"'".to_owned(),
            "s.rowid DESC",
        ),
        ListPlan::Newest => (
            "magic_links l".to_owned(),
            substring.to_owned(),
            "l.id DESC",
        ),
        ListPlan::ByState(state) => {
            let (index, condition) = state_index(state);
            (
                format!("magic_links l INDEXED BY {index}"),
                format!("{condition} AND {substring}"),
                "l.id DESC",
            )
        }
    };
    format!(
        "SELECT l.id, l.recipient_email, l.recipient_name,
                COALESCE(c.name, c.email) AS issued_by, {STATE_SQL} AS state,
                l.delivery, l.delivery_error, l.created_at, l.expires_at,
                l.redeemed_at, l.revoked_at, {REVOKED_BY_SQL} AS revoked_by
         FROM {from} JOIN coworkers c ON c.id = l.coworker_id
              LEFT JOIN coworkers r ON r.id = l.revoked_by
         WHERE l.purpose = 'invite'
           AND (?2 IS NULL OR l.id < ?2)
           AND {search}
           AND (?4 IS NULL OR {STATE_SQL} = ?4)
         ORDER BY {order} LIMIT ?5"
    )
}

async fn summary(pool: &SqlitePool, id: i64) -> Result<LinkSummary, AppError> {
    let sql = format!(
        "SELECT l.id, l.recipient_email, l.recipient_name,
                COALESCE(c.name, c.email) AS issued_by, {STATE_SQL} AS state,
                l.delivery, l.delivery_error, l.created_at, l.expires_at,
                l.redeemed_at, l.revoked_at, {REVOKED_BY_SQL} AS revoked_by
         FROM magic_links l JOIN coworkers c ON c.id = l.coworker_id
              LEFT JOIN coworkers r ON r.id = l.revoked_by
         WHERE l.id = ?2 AND l.purpose = 'invite'"
    );
    let row: Option<SummaryRow> = sqlx::query_as(&sql)
        .bind(now())
        .bind(id)
        .fetch_optional(pool)
        .await
        .or_internal("reading a link")?;
    row.map(LinkSummary::from).ok_or(AppError::NotFound)
}

/// Counts invitations per state. Each count reads one partial index (migration 0004),
/// never the table.
pub async fn counts(pool: &SqlitePool) -> Result<LinkCounts, AppError> {
    let row: (i64, i64, i64, i64) = sqlx::query_as(COUNTS_SQL)
        .bind(now())
        .fetch_one(pool)
        .await
        .or_internal("counting links")?;
    Ok(LinkCounts {
        pending: row.0,
        redeemed: row.1,
        expired: row.2,
        revoked: row.3,
    })
}

/// The per-state counts; `?1` is now. Public so the tests can check its query plan.
pub const COUNTS_SQL: &str = "SELECT
           (SELECT count(*) FROM magic_links WHERE purpose = 'invite'
              AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?1),
           (SELECT count(*) FROM magic_links WHERE purpose = 'invite'
              AND redeemed_at IS NOT NULL AND revoked_at IS NULL),
           (SELECT count(*) FROM magic_links WHERE purpose = 'invite'
              AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at <= ?1),
           (SELECT count(*) FROM magic_links WHERE purpose = 'invite'
              AND revoked_at IS NOT NULL)";

/// Revokes an invitation and ends every session it opened, in one transaction.
/// Revoking a revoked link changes nothing and answers its current state.
#[instrument(skip_all, fields(link_id = id, coworker = coworker.id))]
pub async fn revoke(
    pool: &SqlitePool,
    coworker: &Coworker,
    id: i64,
) -> Result<LinkSummary, AppError> {
    let at = now();
    let mut tx = db::begin_write(pool)
        .await
        .or_internal("starting a revoke")?;
    let revoked = sqlx::query(
        "UPDATE magic_links SET revoked_at = ?2, revoked_by = ?3
         WHERE id = ?1 AND purpose = 'invite' AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .bind(coworker.id)
    .execute(&mut *tx)
    .await
    .or_internal("revoking a link")?
    .rows_affected();
    if revoked == 1 {
        Event::new(EventKind::Revoked)
            .by(coworker.id)
            .record(&mut *tx, id, at)
            .await
            .or_internal("recording a revoke")?;
        let ended = end_link_sessions(&mut tx, id, coworker.id, at).await?;
        info!(sessions_ended = ended, "link revoked");
    }
    tx.commit().await.or_internal("committing a revoke")?;
    summary(pool, id).await
}

/// Ends every live session link `id` opened; the trigger puts each on the trail.
async fn end_link_sessions(
    tx: &mut Transaction<'static, Sqlite>,
    id: i64,
    coworker_id: i64,
    at: i64,
) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "UPDATE auth_sessions SET ended_at = ?2, end_reason = 'link_revoked', ended_by = ?3
         WHERE link_id = ?1 AND ended_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .bind(coworker_id)
    .execute(&mut **tx)
    .await
    .or_internal("ending a revoked link's sessions")?
    .rows_affected())
}

/// A stored link with its issuer, as the landing page, redeem, resend and renewal need it.
#[derive(sqlx::FromRow)]
struct StoredLink {
    id: i64,
    purpose: String,
    recipient_email: String,
    recipient_name: Option<String>,
    coworker_id: i64,
    message: Option<String>,
    created_at: i64,
    expires_at: i64,
    redeemed_at: Option<i64>,
    revoked_at: Option<i64>,
    destination: Option<String>,
    session_minutes: Option<i64>,
    renewal_allowed: bool,
    inviter_email: String,
    inviter_name: Option<String>,
    inviter_active: bool,
}

impl StoredLink {
    /// Whether its holder may ask for a new link: coworkers have not turned renewal off,
    /// and the coworker who issued it is still active. A departed coworker's invitations
    /// are not renewed (their notice would reach someone no longer with the organisation,
    /// and a renewal would extend access nobody inside now vouches for); a coworker can
    /// still Resend one.
    fn renewal_open(&self) -> bool {
        self.renewal_allowed && self.inviter_active
    }

    fn state(&self, at: i64) -> LinkState {
        if self.revoked_at.is_some() {
            LinkState::Revoked
        } else if self.redeemed_at.is_some() {
            LinkState::Redeemed
        } else if self.expires_at <= at {
            LinkState::Expired
        } else {
            LinkState::Pending
        }
    }

    fn is_invite(&self) -> bool {
        self.purpose == "invite"
    }

    fn inviter(&self) -> &str {
        self.inviter_name.as_deref().unwrap_or(&self.inviter_email)
    }

    /// A new link in this one's place: same address, options and expiry length.
    fn successor(&self, max_lifetime_secs: i64) -> LinkSpec<'_> {
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

const STORED_LINK_SQL: &str = "SELECT l.id, l.purpose, l.recipient_email, l.recipient_name,
        l.coworker_id, l.message, l.created_at, l.expires_at, l.redeemed_at, l.revoked_at,
        l.destination, l.session_minutes, l.renewal_allowed,
        c.email AS inviter_email, c.name AS inviter_name,
        c.deactivated_at IS NULL AS inviter_active
    FROM magic_links l JOIN coworkers c ON c.id = l.coworker_id";

async fn by_hash<'e, E>(executor: E, hash: &TokenHash) -> Result<Option<StoredLink>, AppError>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    sqlx::query_as(&format!("{STORED_LINK_SQL} WHERE l.token_hash = ?1"))
        .bind(hash.as_bytes())
        .fetch_optional(executor)
        .await
        .or_internal("looking up a link")
}

async fn by_id<'e, E>(executor: E, id: i64) -> Result<Option<StoredLink>, AppError>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    sqlx::query_as(&format!("{STORED_LINK_SQL} WHERE l.id = ?1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .or_internal("reading a link")
}

/// Parses a token from a request; a malformed one never reaches the database.
pub fn parse_token(input: &str) -> Result<PlainToken, AppError> {
    PlainToken::parse(input.trim()).map_err(|_| AppError::LinkUnknown)
}

/// What the landing page shows. Looking consumes nothing; it is recorded on the link's
/// trail (that is how a coworker sees a mail scanner open a link).
pub async fn peek(
    state: &AppState,
    token: &PlainToken,
    client: &Client,
) -> Result<LinkPreview, AppError> {
    let link = by_hash(&state.db, &token.hashed())
        .await?
        .ok_or(AppError::LinkUnknown)?;
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting to record a look")?;
    Event::new(EventKind::Opened)
        .from(client)
        .record_repeatable(&mut tx, link.id, at)
        .await
        .or_internal("recording a look at a link")?;
    tx.commit()
        .await
        .or_internal("recording a look at a link")?;
    let link_state = link.state(at);
    Ok(LinkPreview {
        purpose: if link.is_invite() {
            Purpose::Invite
        } else {
            Purpose::Signin
        },
        state: link_state,
        inviter_name: link.inviter().to_owned(),
        can_renew: link.is_invite()
            && link.renewal_open()
            && matches!(link_state, LinkState::Expired | LinkState::Redeemed),
        email: link.recipient_email,
        name: link.recipient_name,
        inviter_email: link.inviter_email,
        expires_at: link.expires_at,
    })
}

/// A successful redeem: the new session's id, when it ends (unix seconds) and where the
/// browser goes next.
pub struct Redemption {
    pub auth_id: String,
    pub ends_at: i64,
    pub redeemed: Redeemed,
}

/// The row a winning redeem marked used.
#[derive(sqlx::FromRow)]
struct Won {
    id: i64,
    purpose: String,
    coworker_id: i64,
    destination: Option<String>,
    session_minutes: Option<i64>,
}

/// Redeems a link: one conditional write marks it used and opens a session, in one
/// transaction, so of any number of concurrent attempts exactly one succeeds.
///
/// A pending invitation, the common case, takes `redeem_invitation`: one round trip.
/// Everything else (a coworker's sign-in link, and every refusal with its reason on the
/// trail) takes the general path below, which reads and writes step by step.
pub async fn redeem(
    state: &AppState,
    token: &PlainToken,
    client: &Client,
) -> Result<Redemption, AppError> {
    let hash = token.hashed();
    if let Some(redemption) = redeem_invitation(state, &hash, client).await? {
        return Ok(redemption);
    }
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting a redeem")?;
    let won: Option<Won> = sqlx::query_as(
        "UPDATE magic_links SET redeemed_at = ?2
         WHERE token_hash = ?1 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
         RETURNING id, purpose, coworker_id, destination, session_minutes",
    )
    .bind(hash.as_bytes())
    .bind(at)
    .fetch_optional(&mut *tx)
    .await
    .or_internal("redeeming a link")?;

    let Some(Won {
        id: link_id,
        purpose,
        coworker_id,
        destination,
        session_minutes,
    }) = won
    else {
        // Still inside the write transaction: the state read here is the one that
        // refused the redeem, and the refusal lands on the trail atomically.
        let link = by_hash(&mut *tx, &hash).await?;
        let refusal = match &link {
            None => AppError::LinkUnknown,
            // Pending here cannot happen under the write lock; answer as a fault.
            Some(link) => link.state(at).refusal().unwrap_or(AppError::Internal),
        };
        if let Some(link) = &link {
            let reason = match refusal {
                AppError::LinkUsed => "already used",
                AppError::LinkExpired => "expired",
                AppError::LinkRevoked => "revoked",
                _ => "unknown",
            };
            Event::new(EventKind::RedeemRefused)
                .from(client)
                .detail(reason)
                .record_repeatable(&mut tx, link.id, at)
                .await
                .or_internal("recording a refused redeem")?;
        }
        tx.commit()
            .await
            .or_internal("committing a refused redeem")?;
        info!(reason = ?refusal, "redeem refused");
        return Err(refusal);
    };

    let (holder, lifetime, redirect_to) = if purpose == "signin" {
        (
            Holder::Coworker(coworker_id),
            state.config.coworker_session_lifetime,
            "/dashboard".to_owned(),
        )
    } else {
        let minutes = session_minutes.unwrap_or(SessionLifetime::DEFAULT.minutes());
        let lifetime = std::time::Duration::from_secs(minutes as u64 * 60)
            .min(state.config.invitee_session_lifetime);
        (
            Holder::Invitee { link_id },
            lifetime,
            destination.unwrap_or_else(|| "/welcome".to_owned()),
        )
    };
    let is_signin = matches!(holder, Holder::Coworker(_));
    let (auth_id, ends_at) = auth::create(&mut tx, holder, lifetime, client)
        .await
        .or_internal("opening a session")?;
    if is_signin {
        // An invitee's session records its redeem itself (a trigger, migration 0004).
        Event::new(EventKind::Redeemed)
            .from(client)
            .record(&mut *tx, link_id, at)
            .await
            .or_internal("recording a redeem")?;
    }
    tx.commit().await.or_internal("committing a redeem")?;
    info!(link_id, "link redeemed");
    Ok(Redemption {
        auth_id,
        ends_at,
        redeemed: Redeemed { redirect_to },
    })
}

/// A pending invitation's redeem, committed (see [`group`]) with whatever other
/// redeems are waiting: mark the link used, open the invitee's session (whose insert
/// puts `redeemed` on the trail, a trigger), and store the session layer's record for it
/// (see [`auth::PreparedRecords`]). Each insert runs only when the statement before it
/// changed a row, so a link that is not a pending invitation changes nothing and
/// answers `None`.
async fn redeem_invitation(
    state: &AppState,
    hash: &TokenHash,
    client: &Client,
) -> Result<Option<Redemption>, AppError> {
    let at = now();
    let auth_id = auth::new_id();
    let record = auth::PreparedRecords::prepare(&auth_id)?;
    let won = state
        .redeems
        .commit(Redeem {
            token_hash: hash.as_bytes().to_vec(),
            at,
            auth_id: auth_id.clone(),
            default_session_minutes: SessionLifetime::DEFAULT.minutes(),
            longest_session_secs: state.config.invitee_session_lifetime.as_secs() as i64,
            user_agent: client
                .user_agent
                .as_deref()
                .map(|ua| events::truncate(ua, events::MAX_USER_AGENT_BYTES).to_owned()),
            ip: client.ip.to_string(),
            record_id: record.id.to_string(),
            record_data: record.data,
        })
        .await?;
    let Some((_, link_id, destination, ends_at)) = won.into_iter().next() else {
        return Ok(None);
    };
    state.prepared_records.stored(auth_id.clone(), record.id);
    info!(link_id, "link redeemed");
    Ok(Some(Redemption {
        auth_id,
        ends_at,
        redeemed: Redeemed {
            redirect_to: destination.unwrap_or_else(|| "/welcome".to_owned()),
        },
    }))
}

/// A link's options and the links either side of it in its chain (resend, renewal).
/// Public for the query-plan test.
pub const DETAIL_SQL: &str =
    "SELECT l.message, l.destination, l.session_minutes, l.renewal_allowed, l.replaces,
            (SELECT n.id FROM magic_links n WHERE n.replaces = l.id ORDER BY n.id DESC LIMIT 1)
                AS replaced_by
     FROM magic_links l WHERE l.id = ?1";

#[derive(sqlx::FromRow)]
struct DetailRow {
    message: Option<String>,
    destination: Option<String>,
    session_minutes: Option<i64>,
    renewal_allowed: bool,
    replaces: Option<i64>,
    replaced_by: Option<i64>,
}

/// Everything about one invitation: options, sessions and a page of its trail (newest
/// first, before event `before` when given).
pub async fn details(
    state: &AppState,
    id: i64,
    before: Option<i64>,
) -> Result<LinkDetails, AppError> {
    let link = summary(&state.db, id).await?;
    let row: DetailRow = sqlx::query_as(DETAIL_SQL)
        .bind(id)
        .fetch_one(&state.db)
        .await
        .or_internal("reading a link's options")?;
    let sessions: Vec<LinkSession> = sqlx::query_as(
        "SELECT rowid AS number, created_at AS started_at, last_seen_at, expires_at, ended_at,
                user_agent, ip
         FROM auth_sessions WHERE link_id = ?1 ORDER BY created_at DESC, rowid DESC",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await
    .or_internal("reading a link's sessions")?;
    let default_minutes = SessionLifetime::DEFAULT.minutes();
    let (events, older_events) = events::trail(&state.db, id, before).await?;
    Ok(LinkDetails {
        link,
        message: row.message,
        destination: row.destination.unwrap_or_else(|| "/welcome".to_owned()),
        session_minutes: row.session_minutes.unwrap_or(default_minutes),
        renewal_allowed: row.renewal_allowed,
        replaces: row.replaces,
        replaced_by: row.replaced_by,
        events,
        older_events,
        sessions,
    })
}

/// Ends one session an invitation opened (by its number from [`details`]).
#[instrument(skip_all, fields(session = number, coworker = coworker.id))]
pub async fn end_session(
    pool: &SqlitePool,
    coworker: &Coworker,
    number: i64,
) -> Result<(), AppError> {
    let ended: Option<i64> = sqlx::query_scalar(
        "UPDATE auth_sessions SET ended_at = ?2, end_reason = 'ended_by_coworker', ended_by = ?3
         WHERE rowid = ?1 AND link_id IS NOT NULL AND ended_at IS NULL RETURNING link_id",
    )
    .bind(number)
    .bind(now())
    .bind(coworker.id)
    .fetch_optional(pool)
    .await
    .or_internal("ending a session")?;
    if ended.is_some() {
        info!("session ended by a coworker");
        return Ok(());
    }
    // Already ended is fine; an unknown number (or a coworker's own session) is not.
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM auth_sessions WHERE rowid = ?1 AND link_id IS NOT NULL")
            .bind(number)
            .fetch_optional(pool)
            .await
            .or_internal("reading a session")?;
    exists.map(drop).ok_or(AppError::NotFound)
}

/// Turns new-link requests for an invitation on or off.
pub async fn set_renewal(
    pool: &SqlitePool,
    coworker: &Coworker,
    id: i64,
    allowed: bool,
) -> Result<(), AppError> {
    let at = now();
    let mut tx = db::begin_write(pool)
        .await
        .or_internal("starting a renewal change")?;
    let changed = sqlx::query(
        "UPDATE magic_links SET renewal_allowed = ?2
         WHERE id = ?1 AND purpose = 'invite' AND renewal_allowed <> ?2",
    )
    .bind(id)
    .bind(allowed)
    .execute(&mut *tx)
    .await
    .or_internal("changing renewal")?
    .rows_affected();
    if changed == 1 {
        Event::new(EventKind::RenewalChanged)
            .by(coworker.id)
            .detail(if allowed { "allowed" } else { "off" })
            .record(&mut *tx, id, at)
            .await
            .or_internal("recording a renewal change")?;
    } else if by_id(&mut *tx, id).await?.is_none_or(|l| !l.is_invite()) {
        return Err(AppError::NotFound);
    }
    tx.commit().await.or_internal("committing a renewal change")
}

/// Sends a pending or expired invitation again: the old token is revoked and a new one
/// goes to the same address, in one transaction, then by mail.
#[instrument(skip_all, fields(link_id = id, coworker = coworker.id))]
pub async fn resend(
    state: &AppState,
    coworker: &Coworker,
    id: i64,
) -> Result<IssuedLink, AppError> {
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting a resend")?;
    let old = by_id(&mut *tx, id)
        .await?
        .filter(StoredLink::is_invite)
        .ok_or(AppError::NotFound)?;
    match old.state(at) {
        LinkState::Redeemed => return Err(AppError::LinkUsed),
        LinkState::Revoked => return Err(AppError::LinkRevoked),
        LinkState::Pending | LinkState::Expired => {}
    }
    sqlx::query("UPDATE magic_links SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1")
        .bind(id)
        .bind(at)
        .bind(coworker.id)
        .execute(&mut *tx)
        .await
        .or_internal("revoking the resent link")?;
    let spec = old.successor(state.config.max_link_lifetime.as_secs() as i64);
    let created = create(&mut tx, &spec, at)
        .await
        .or_internal("storing the resent link")?;
    Event::new(EventKind::Resent)
        .by(coworker.id)
        .other_link(created.id)
        .record(&mut *tx, id, at)
        .await
        .or_internal("recording a resend")?;
    Event::new(EventKind::Issued)
        .by(coworker.id)
        .detail("resend")
        .other_link(id)
        .record(&mut *tx, created.id, at)
        .await
        .or_internal("recording a resend")?;
    tx.commit().await.or_internal("committing a resend")?;
    info!(new_link_id = created.id, "link resent");
    // The new link is the same invitation: it names whoever issued the first one (the
    // trail records who resent it).
    mail_invitation(state, &spec, &created, (old.inviter(), &old.inviter_email)).await
}

/// The holder of an expired or used invitation asks for a new one. It goes to the
/// invitation's own address (never one the requester names), the issuer is told by mail,
/// and each link allows this once per [`RENEWAL_INTERVAL_SECS`].
pub async fn renew(
    state: &AppState,
    token: &PlainToken,
    client: &Client,
) -> Result<Renewed, AppError> {
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting a renewal")?;
    let old = by_hash(&mut *tx, &token.hashed())
        .await?
        .ok_or(AppError::LinkUnknown)?;
    if !old.is_invite() {
        return Err(AppError::invalid(
            "token",
            "Sign-in links are not renewed: ask for a new one on the sign-in page.",
        ));
    }
    match old.state(at) {
        LinkState::Revoked => return Err(AppError::LinkRevoked),
        LinkState::Pending => {
            return Err(AppError::invalid(
                "token",
                "This link still works: press Continue to sign in.",
            ))
        }
        LinkState::Expired | LinkState::Redeemed => {}
    }
    if !old.renewal_open() {
        return Err(AppError::RenewalOff);
    }
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT max(at) FROM link_events WHERE link_id = ?1 AND kind = 'renewed'",
    )
    .bind(old.id)
    .fetch_one(&mut *tx)
    .await
    .or_internal("reading the last renewal")?;
    if let Some(last) = last.filter(|&last| last + RENEWAL_INTERVAL_SECS > at) {
        return Err(AppError::RateLimited {
            retry_after_secs: (last + RENEWAL_INTERVAL_SECS - at).max(1) as u64,
        });
    }
    let spec = old.successor(state.config.max_link_lifetime.as_secs() as i64);
    let created = create(&mut tx, &spec, at)
        .await
        .or_internal("storing the renewed link")?;
    Event::new(EventKind::Renewed)
        .from(client)
        .other_link(created.id)
        .record(&mut *tx, old.id, at)
        .await
        .or_internal("recording a renewal")?;
    Event::new(EventKind::Issued)
        .detail("renewal requested by the invitee")
        .other_link(old.id)
        .record(&mut *tx, created.id, at)
        .await
        .or_internal("recording a renewal")?;
    tx.commit().await.or_internal("committing a renewal")?;
    info!(link_id = old.id, new_link_id = created.id, "link renewed");

    let issued =
        mail_invitation(state, &spec, &created, (old.inviter(), &old.inviter_email)).await?;
    notify_inviter(state, &old, issued.id, issued.delivery).await;
    Ok(Renewed {
        sent_to: EmailAddress::parse("email", &old.recipient_email)
            .map(|e| e.masked())
            .unwrap_or_default(),
    })
}

/// Tells the issuer of a renewed invitation what happened. A failure is logged, not
/// answered: the invitee's new link went out (or its failure is on the trail).
async fn notify_inviter(state: &AppState, old: &StoredLink, new_id: i64, delivery: Delivery) {
    let Ok(inviter) = EmailAddress::parse("email", &old.inviter_email) else {
        return;
    };
    let details_url = format!(
        "{}/dashboard/links/{new_id}",
        state.config.public_url.trim_end_matches('/')
    );
    let letter = state.postman.renewal_notice(&RenewalNotice {
        to: &inviter,
        to_name: old.inviter_name.as_deref(),
        invitee: &old.recipient_email,
        invitee_name: old.recipient_name.as_deref(),
        delivered: delivery == Delivery::Sent,
        details_url: &details_url,
    });
    let result = match letter {
        Ok(letter) => state.postman.send(letter).await,
        Err(error) => Err(error.to_string()),
    };
    if let Err(error) = result {
        warn!(link_id = old.id, %error, "telling the inviter about a renewal failed");
    }
}

/// Creates a coworker's sign-in link, or `None` when no active coworker has this address.
pub async fn create_signin(
    pool: &SqlitePool,
    public_url: &str,
    lifetime_secs: i64,
    email: &EmailAddress,
) -> Result<Option<(String, i64, i64)>, AppError> {
    let Some(coworker) = coworkers::find_active(pool, email)
        .await
        .or_internal("looking up a coworker")?
    else {
        return Ok(None);
    };
    let spec = LinkSpec {
        purpose: Purpose::Signin,
        coworker_id: coworker.id,
        email: email.as_str(),
        name: None,
        message: None,
        lifetime_secs,
        destination: None,
        session_minutes: None,
        renewal_allowed: false,
        replaces: None,
    };
    let at = now();
    let mut tx = db::begin_write(pool)
        .await
        .or_internal("starting a sign-in link")?;
    let created = create(&mut tx, &spec, at)
        .await
        .or_internal("storing a sign-in link")?;
    Event::new(EventKind::Issued)
        .record(&mut *tx, created.id, at)
        .await
        .or_internal("recording a sign-in link")?;
    tx.commit().await.or_internal("committing a sign-in link")?;
    Ok(Some((
        created.token.link(public_url),
        created.id,
        created.expires_at,
    )))
}

/// Handles the `/login` form: mails a sign-in link if the address is a coworker's.
/// Runs after the answer was sent, so every address gets the same answer at the same speed.
pub async fn send_signin(state: AppState, email: EmailAddress) {
    // Looked up on the read pool: only a real coworker's link takes the writer.
    match coworkers::find_active(&state.db, &email).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            info!(to = %email.masked(), "sign-in requested for an address that is not a coworker");
            return;
        }
        Err(error) => {
            warn!(%error, "looking up a coworker for a sign-in failed");
            return;
        }
    }
    if !state.limits.signin_mail(email.as_str()) {
        warn!(to = %email.masked(), "sign-in mail not sent: this address's hourly mail cap is spent");
        return;
    }
    let lifetime = state.config.signin_link_lifetime.as_secs() as i64;
    let created = create_signin(&state.writer, &state.config.public_url, lifetime, &email).await;
    let (url, id, expires_at) = match created {
        Ok(Some(created)) => created,
        Ok(None) => {
            info!(to = %email.masked(), "sign-in requested for an address that is not a coworker");
            return;
        }
        Err(_) => return,
    };
    let letter = match state.postman.signin(&email, &url, expires_at, lifetime) {
        Ok(letter) => letter,
        Err(error) => {
            warn!(%error, "composing a sign-in mail failed");
            return;
        }
    };
    if deliver(&state.deliveries, &state.postman, id, letter)
        .await
        .is_ok()
    {
        info!(link_id = id, to = %email.masked(), "sign-in link sent");
    }
}

//! Magic links: issuing, listing, revoking, looking at and redeeming them.

use super::auth::{self, Holder};
use super::coworkers::{self, Coworker};
use super::email::EmailAddress;
use super::mail::{Invitation, Postman};
use super::state::AppState;
use super::tokens::{PlainToken, TokenHash};
use super::{db, now, OrInternal};
use crate::error::AppError;
use crate::model::{
    Delivery, ExpiresIn, IssuedLink, LinkPage, LinkPreview, LinkState, LinkSummary, Purpose,
    Redeemed,
};
use sqlx::SqlitePool;
use tracing::{info, instrument, warn};

/// Links per page of the dashboard table.
pub const PAGE_SIZE: i64 = 50;
const MAX_NAME_CHARS: usize = 100;
const MAX_MESSAGE_CHARS: usize = 2000;
const MAX_QUERY_CHARS: usize = 254;

/// An invitation as the coworker asked for it, already parsed.
pub struct NewInvite {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub message: Option<String>,
    pub expires_in: ExpiresIn,
}

impl NewInvite {
    /// Parses the `issue_link` parameters; every refusal names its field.
    pub fn parse(
        email: &str,
        name: Option<&str>,
        message: Option<&str>,
        expires_in: &str,
    ) -> Result<Self, AppError> {
        let email = EmailAddress::parse("email", email)?;
        let name = optional_text("name", name, MAX_NAME_CHARS, false)?;
        let message = optional_text("message", message, MAX_MESSAGE_CHARS, true)?;
        let expires_in = ExpiresIn::parse(expires_in.trim()).ok_or_else(|| {
            AppError::invalid("expires_in", "Choose an expiry: 15m, 1h, 24h or 7d.")
        })?;
        Ok(Self {
            email,
            name,
            message,
            expires_in,
        })
    }
}

/// Trims optional free text; empty becomes `None`. Control characters are refused, except
/// line breaks where `multiline` allows them.
fn optional_text(
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

/// A link row as stored, before a state is derived from it.
struct Created {
    id: i64,
    token: PlainToken,
    expires_at: i64,
}

/// Stores a new link and returns its only plaintext copy.
async fn create(
    pool: &SqlitePool,
    purpose: Purpose,
    coworker_id: i64,
    invite: (&EmailAddress, Option<&str>, Option<&str>),
    lifetime_secs: i64,
) -> sqlx::Result<Created> {
    let token = PlainToken::generate();
    let created_at = now();
    let expires_at = created_at + lifetime_secs;
    let (email, name, message) = invite;
    let id = sqlx::query_scalar(
        "INSERT INTO magic_links
             (token_hash, purpose, recipient_email, recipient_name, coworker_id, message, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
    )
    .bind(token.hashed().as_bytes())
    .bind(purpose_code(purpose))
    .bind(email.as_str())
    .bind(name)
    .bind(coworker_id)
    .bind(message)
    .bind(created_at)
    .bind(expires_at)
    .fetch_one(pool)
    .await?;
    Ok(Created {
        id,
        token,
        expires_at,
    })
}

fn purpose_code(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Invite => "invite",
        Purpose::Signin => "signin",
    }
}

/// Issues an invitation and mails it. A failed delivery is recorded on the link and
/// returned to the coworker; the link itself is kept so it can be revoked or copied.
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
    let created = create(
        &state.writer,
        Purpose::Invite,
        coworker.id,
        (
            &invite.email,
            invite.name.as_deref(),
            invite.message.as_deref(),
        ),
        lifetime,
    )
    .await
    .or_internal("storing the magic link")?;
    let url = created.token.link(&state.config.public_url);
    info!(link_id = created.id, to = %invite.email.masked(), "link issued");

    let letter = state
        .postman
        .invitation(&Invitation {
            to: &invite.email,
            to_name: invite.name.as_deref(),
            inviter_name: coworker.display_name(),
            inviter_email: &coworker.email,
            message: invite.message.as_deref(),
            url: &url,
            expires_at: created.expires_at,
            lifetime_secs: lifetime,
        })
        .or_internal("composing the invitation")?;
    let (delivery, delivery_error) =
        deliver(&state.writer, &state.postman, created.id, letter).await?;

    Ok(IssuedLink {
        id: created.id,
        email: invite.email.to_string(),
        expires_at: created.expires_at,
        delivery,
        delivery_error,
        url,
    })
}

/// Sends a letter for link `id` and records the outcome on the link.
async fn deliver(
    pool: &SqlitePool,
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
    sqlx::query("UPDATE magic_links SET delivery = ?2, delivery_error = ?3 WHERE id = ?1")
        .bind(id)
        .bind(match delivery {
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::Pending => "pending",
        })
        .bind(&error)
        .execute(pool)
        .await
        .or_internal("recording the delivery")?;
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
}

impl From<SummaryRow> for LinkSummary {
    fn from(row: SummaryRow) -> Self {
        Self {
            id: row.id,
            email: row.recipient_email,
            name: row.recipient_name,
            issued_by: row.issued_by,
            state: LinkState::parse(&row.state).unwrap_or(LinkState::Pending),
            delivery: match row.delivery.as_str() {
                "sent" => Delivery::Sent,
                "failed" => Delivery::Failed,
                _ => Delivery::Pending,
            },
            delivery_error: row.delivery_error,
            created_at: row.created_at,
            expires_at: row.expires_at,
            redeemed_at: row.redeemed_at,
            revoked_at: row.revoked_at,
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
    let mut rows: Vec<SummaryRow> = sqlx::query_as(&list_sql(trigram))
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

/// The list's query; parameters: now, cursor, search, state, limit. Public so the tests
/// can check its query plans.
pub fn list_sql(trigram: bool) -> String {
    let (from, search, order) = if trigram {
        (
            "magic_links_search s JOIN magic_links l ON l.id = s.rowid",
            // One quoted phrase: the search's characters are matched literally.
            "s.magic_links_search MATCH '\"' || replace(?3, '\"', '\"\"') || '\"'",
            "s.rowid DESC",
        )
    } else {
        (
            "magic_links l",
            "(?3 IS NULL OR instr(l.recipient_email, ?3) > 0)",
            "l.id DESC",
        )
    };
    format!(
        "SELECT l.id, l.recipient_email, l.recipient_name,
                COALESCE(c.name, c.email) AS issued_by, {STATE_SQL} AS state,
                l.delivery, l.delivery_error, l.created_at, l.expires_at,
                l.redeemed_at, l.revoked_at
         FROM {from} JOIN coworkers c ON c.id = l.coworker_id
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
                l.redeemed_at, l.revoked_at
         FROM magic_links l JOIN coworkers c ON c.id = l.coworker_id
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
        let ended = sqlx::query(
            "UPDATE auth_sessions SET ended_at = ?2 WHERE link_id = ?1 AND ended_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .or_internal("ending a revoked link's sessions")?
        .rows_affected();
        info!(sessions_ended = ended, "link revoked");
    }
    tx.commit().await.or_internal("committing a revoke")?;
    summary(pool, id).await
}

#[derive(sqlx::FromRow)]
struct LinkLookup {
    purpose: String,
    recipient_email: String,
    recipient_name: Option<String>,
    inviter_email: String,
    inviter_name: Option<String>,
    expires_at: i64,
    redeemed_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl LinkLookup {
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
}

async fn lookup(pool: &SqlitePool, hash: &TokenHash) -> Result<Option<LinkLookup>, AppError> {
    sqlx::query_as(
        "SELECT l.purpose, l.recipient_email, l.recipient_name,
                c.email AS inviter_email, c.name AS inviter_name,
                l.expires_at, l.redeemed_at, l.revoked_at
         FROM magic_links l JOIN coworkers c ON c.id = l.coworker_id
         WHERE l.token_hash = ?1",
    )
    .bind(hash.as_bytes())
    .fetch_optional(pool)
    .await
    .or_internal("looking up a link")
}

/// Parses a token from a request; a malformed one never reaches the database.
pub fn parse_token(input: &str) -> Result<PlainToken, AppError> {
    PlainToken::parse(input.trim()).map_err(|_| AppError::LinkUnknown)
}

/// What the landing page shows. Looking consumes nothing.
pub async fn peek(pool: &SqlitePool, token: &PlainToken) -> Result<LinkPreview, AppError> {
    let link = lookup(pool, &token.hashed())
        .await?
        .ok_or(AppError::LinkUnknown)?;
    Ok(LinkPreview {
        purpose: if link.purpose == "signin" {
            Purpose::Signin
        } else {
            Purpose::Invite
        },
        state: link.state(now()),
        inviter_name: link
            .inviter_name
            .clone()
            .unwrap_or_else(|| link.inviter_email.clone()),
        email: link.recipient_email,
        name: link.recipient_name,
        inviter_email: link.inviter_email,
        expires_at: link.expires_at,
    })
}

/// A successful redeem: the new session's id and where the browser goes next.
pub struct Redemption {
    pub auth_id: String,
    pub redeemed: Redeemed,
}

/// Redeems a link: one conditional write marks it used and opens a session, in one
/// transaction, so of any number of concurrent attempts exactly one succeeds.
pub async fn redeem(
    state: &AppState,
    token: &PlainToken,
    user_agent: Option<&str>,
) -> Result<Redemption, AppError> {
    let hash = token.hashed();
    let at = now();
    let mut tx = db::begin_write(&state.writer)
        .await
        .or_internal("starting a redeem")?;
    let won: Option<(i64, String, i64)> = sqlx::query_as(
        "UPDATE magic_links SET redeemed_at = ?2
         WHERE token_hash = ?1 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
         RETURNING id, purpose, coworker_id",
    )
    .bind(hash.as_bytes())
    .bind(at)
    .fetch_optional(&mut *tx)
    .await
    .or_internal("redeeming a link")?;

    let Some((link_id, purpose, coworker_id)) = won else {
        tx.rollback()
            .await
            .or_internal("rolling back a refused redeem")?;
        let refusal = match lookup(&state.db, &hash).await?.map(|link| link.state(at)) {
            Some(LinkState::Revoked) => AppError::LinkRevoked,
            Some(LinkState::Redeemed) => AppError::LinkUsed,
            Some(LinkState::Expired) => AppError::LinkExpired,
            // Pending here means the link changed under us; the holder can simply retry.
            Some(LinkState::Pending) => AppError::Internal,
            None => AppError::LinkUnknown,
        };
        info!(reason = ?refusal, "redeem refused");
        return Err(refusal);
    };

    let (holder, lifetime, redirect_to) = if purpose == "signin" {
        (
            Holder::Coworker(coworker_id),
            state.config.coworker_session_lifetime,
            "/dashboard",
        )
    } else {
        (
            Holder::Invitee { link_id },
            state.config.invitee_session_lifetime,
            "/welcome",
        )
    };
    let auth_id = auth::create(&mut tx, holder, lifetime, user_agent)
        .await
        .or_internal("opening a session")?;
    tx.commit().await.or_internal("committing a redeem")?;
    info!(link_id, "link redeemed");
    Ok(Redemption {
        auth_id,
        redeemed: Redeemed {
            redirect_to: redirect_to.to_owned(),
        },
    })
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
    let created = create(
        pool,
        Purpose::Signin,
        coworker.id,
        (email, None, None),
        lifetime_secs,
    )
    .await
    .or_internal("storing a sign-in link")?;
    Ok(Some((
        created.token.link(public_url),
        created.id,
        created.expires_at,
    )))
}

/// Handles the `/login` form: mails a sign-in link if the address is a coworker's.
/// Runs after the answer was sent, so every address gets the same answer at the same speed.
pub async fn send_signin(state: AppState, email: EmailAddress) {
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
    if deliver(&state.writer, &state.postman, id, letter)
        .await
        .is_ok()
    {
        info!(link_id = id, to = %email.masked(), "sign-in link sent");
    }
}

-- Links as managed objects: an append-only audit trail, per-link options, and the chain
-- of links that replaced one another (resend, renewal).

-- Per-link options, chosen when the link is issued. Existing links keep today's behaviour.
-- destination: where the invitee lands after signing in (a path inside the site).
-- session_minutes: the lifetime of the session the link opens (NULL: the server default).
-- renewal_allowed: whether the holder of an expired or used link may ask for a new one.
-- replaces: the link this one was issued in place of, by a resend or a renewal.
ALTER TABLE magic_links ADD COLUMN destination TEXT;
ALTER TABLE magic_links ADD COLUMN session_minutes INTEGER CHECK (session_minutes > 0);
ALTER TABLE magic_links ADD COLUMN renewal_allowed INTEGER NOT NULL DEFAULT 1
    CHECK (renewal_allowed IN (0, 1));
ALTER TABLE magic_links ADD COLUMN replaces INTEGER REFERENCES magic_links (id);

-- Why a session ended and which coworker ended it, so the trail can say so.
ALTER TABLE auth_sessions ADD COLUMN end_reason TEXT
    CHECK (end_reason IN ('signed_out', 'replaced', 'expired', 'link_revoked', 'ended_by_coworker', 'coworker_deactivated'));
ALTER TABLE auth_sessions ADD COLUMN ended_by INTEGER REFERENCES coworkers (id);
-- The address the session was opened from, for the link's page and its trail.
ALTER TABLE auth_sessions ADD COLUMN ip TEXT;

-- Everything that happened to a link, written in the same transaction as the change it
-- records. Never a token or a link: only who, when, from where and why.
CREATE TABLE link_events (
    id          INTEGER PRIMARY KEY,
    link_id     INTEGER NOT NULL REFERENCES magic_links (id),
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN (
                    'issued', 'mail_sent', 'mail_failed', 'opened', 'redeemed',
                    'redeem_refused', 'revoked', 'session_ended', 'renewed', 'resent',
                    'renewal_changed')),
    -- The coworker who acted (issued, revoked, resent, ended a session).
    coworker_id INTEGER REFERENCES coworkers (id),
    ip          TEXT,
    user_agent  TEXT,
    -- The refusal reason, the SMTP error, why a session ended.
    detail      TEXT,
    -- The other link of a resend or renewal.
    other_link  INTEGER REFERENCES magic_links (id)
);
CREATE INDEX link_events_link ON link_events (link_id, id);

-- Append-only: the trail cannot be edited or trimmed through SQL.
CREATE TRIGGER link_events_no_update BEFORE UPDATE ON link_events BEGIN
    SELECT RAISE(ABORT, 'link_events is append-only');
END;
CREATE TRIGGER link_events_no_delete BEFORE DELETE ON link_events BEGIN
    SELECT RAISE(ABORT, 'link_events is append-only');
END;

-- Every way an invitee's session ends (sign-out, a new sign-in in the same browser,
-- housekeeping, a revoke, a coworker's button) lands on its link's trail exactly once,
-- in the transaction that ended it.
CREATE TRIGGER auth_sessions_ended AFTER UPDATE OF ended_at ON auth_sessions
WHEN old.ended_at IS NULL AND new.ended_at IS NOT NULL AND new.link_id IS NOT NULL
BEGIN
    INSERT INTO link_events (link_id, at, kind, coworker_id, user_agent, detail)
    VALUES (new.link_id, new.ended_at, 'session_ended', new.ended_by, new.user_agent,
            coalesce(new.end_reason, 'expired'));
END;

-- An invitation's redeem is the session it opens: recorded by the insert itself, in the
-- redeem's transaction, with the address and browser that opened it. (A coworker's
-- sign-in session names no link; redeem records those explicitly.)
CREATE TRIGGER auth_sessions_opened AFTER INSERT ON auth_sessions
WHEN new.link_id IS NOT NULL
BEGIN
    INSERT INTO link_events (link_id, at, kind, ip, user_agent)
    VALUES (new.link_id, new.created_at, 'redeemed', new.ip, new.user_agent);
END;

-- Counting invitations per state reads only these partial indexes, each a fraction of
-- the table. (Keyed by purpose: SQLite prefers an index it can search with an equality
-- over a full scan of a smaller one.)
CREATE INDEX magic_links_open ON magic_links (purpose, expires_at)
    WHERE redeemed_at IS NULL AND revoked_at IS NULL;
CREATE INDEX magic_links_redeemed ON magic_links (purpose)
    WHERE redeemed_at IS NOT NULL AND revoked_at IS NULL;
CREATE INDEX magic_links_revoked ON magic_links (purpose) WHERE revoked_at IS NOT NULL;

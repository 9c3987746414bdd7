-- Latchkey's first schema: coworkers, magic links and the sessions they open.
-- Times are unix seconds, UTC. Tokens are stored only as SHA-256 hashes.

-- People inside the organisation. Never deleted (links name their issuer); removing a
-- coworker sets deactivated_at and ends their sessions.
CREATE TABLE coworkers (
    id             INTEGER PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    name           TEXT,
    is_admin       INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at     INTEGER NOT NULL,
    deactivated_at INTEGER
);

-- Every magic link: invitations for outside people and coworkers' own sign-in links.
CREATE TABLE magic_links (
    id              INTEGER PRIMARY KEY,
    token_hash      BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    purpose         TEXT    NOT NULL CHECK (purpose IN ('invite', 'signin')),
    recipient_email TEXT    NOT NULL,
    recipient_name  TEXT,
    -- For an invitation, who issued it; for a sign-in link, the coworker it signs in.
    coworker_id     INTEGER NOT NULL REFERENCES coworkers (id),
    message         TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL CHECK (expires_at > created_at),
    redeemed_at     INTEGER,
    revoked_at      INTEGER,
    revoked_by      INTEGER REFERENCES coworkers (id),
    delivery        TEXT    NOT NULL DEFAULT 'pending' CHECK (delivery IN ('pending', 'sent', 'failed')),
    delivery_error  TEXT
);

-- The dashboard lists invitations newest first.
CREATE INDEX magic_links_purpose_id ON magic_links (purpose, id DESC);

-- Signed-in sessions. The tower-sessions record holds only this row's id; every request
-- checks the row, so ending it here signs the browser out at its next request.
CREATE TABLE auth_sessions (
    id           TEXT    PRIMARY KEY,
    coworker_id  INTEGER REFERENCES coworkers (id),
    link_id      INTEGER REFERENCES magic_links (id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    user_agent   TEXT,
    -- A coworker session knows its coworker; an invitee session knows its link.
    CHECK ((coworker_id IS NULL) <> (link_id IS NULL))
);

CREATE INDEX auth_sessions_link ON auth_sessions (link_id) WHERE link_id IS NOT NULL;
CREATE INDEX auth_sessions_coworker ON auth_sessions (coworker_id) WHERE coworker_id IS NOT NULL;

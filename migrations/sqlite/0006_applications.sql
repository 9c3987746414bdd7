-- Latchkey as the gate in front of the organisation's own web applications.

-- An application behind the gate: a name and the base URL every URL inside it starts
-- with, stored normalised (lower-case scheme and host, explicit port only when it is not
-- the scheme's default, path prefix without a trailing slash; the root is '').
CREATE TABLE applications (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scheme      TEXT    NOT NULL CHECK (scheme IN ('http', 'https')),
    host        TEXT    NOT NULL,
    port        INTEGER,
    path_prefix TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX applications_name ON applications (lower(name));
CREATE UNIQUE INDEX applications_base_url ON applications (scheme, host, coalesce(port, 0), path_prefix);

-- Which applications an invitation opens. Coworkers reach every application.
CREATE TABLE link_applications (
    link_id        INTEGER NOT NULL REFERENCES magic_links (id),
    application_id INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    PRIMARY KEY (link_id, application_id)
) WITHOUT ROWID;
CREATE INDEX link_applications_application ON link_applications (application_id);

-- The applications each session has reached, so a link's trail records the first request
-- that reached each one ("Reached Wiki"), never one event per request.
CREATE TABLE session_applications (
    session_id     TEXT    NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    application_id INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, application_id)
) WITHOUT ROWID;

-- Two new kinds of event: a session reached an application, and a coworker changed which
-- applications an invitation opens. SQLite cannot alter a CHECK constraint, so the trail
-- is rebuilt with the same rows, indexes and triggers (the triggers on auth_sessions
-- that write to it are dropped first and made again after).
DROP TRIGGER auth_sessions_ended;
DROP TRIGGER auth_sessions_opened;
CREATE TABLE link_events_new (
    id          INTEGER PRIMARY KEY,
    link_id     INTEGER NOT NULL REFERENCES magic_links (id),
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN (
                    'issued', 'mail_sent', 'mail_failed', 'opened', 'redeemed',
                    'redeem_refused', 'revoked', 'session_ended', 'renewed', 'resent',
                    'renewal_changed', 'reached', 'access_changed')),
    coworker_id INTEGER REFERENCES coworkers (id),
    ip          TEXT,
    user_agent  TEXT,
    detail      TEXT,
    other_link  INTEGER REFERENCES magic_links (id),
    repeats     INTEGER NOT NULL DEFAULT 1 CHECK (repeats >= 1),
    last_at     INTEGER,
    network     TEXT
);
INSERT INTO link_events_new
    (id, link_id, at, kind, coworker_id, ip, user_agent, detail, other_link, repeats,
     last_at, network)
SELECT id, link_id, at, kind, coworker_id, ip, user_agent, detail, other_link, repeats,
       last_at, network
FROM link_events;
DROP TABLE link_events;
ALTER TABLE link_events_new RENAME TO link_events;
CREATE INDEX link_events_link ON link_events (link_id, id);
CREATE INDEX link_events_repeatable ON link_events (link_id, kind, at);

CREATE TRIGGER link_events_no_update
BEFORE UPDATE OF id, link_id, at, kind, coworker_id, ip, user_agent, detail, other_link, network
ON link_events BEGIN
    SELECT RAISE(ABORT, 'link_events is append-only');
END;
CREATE TRIGGER link_events_repeats_only_grow BEFORE UPDATE OF repeats, last_at ON link_events
WHEN new.repeats <= old.repeats OR new.last_at < coalesce(old.last_at, old.at)
BEGIN
    SELECT RAISE(ABORT, 'a repeated event can only grow');
END;
CREATE TRIGGER link_events_no_delete BEFORE DELETE ON link_events BEGIN
    SELECT RAISE(ABORT, 'link_events is append-only');
END;

CREATE TRIGGER auth_sessions_ended AFTER UPDATE OF ended_at ON auth_sessions
WHEN old.ended_at IS NULL AND new.ended_at IS NOT NULL AND new.link_id IS NOT NULL
BEGIN
    INSERT INTO link_events (link_id, at, kind, coworker_id, user_agent, detail)
    VALUES (new.link_id, new.ended_at, 'session_ended', new.ended_by, new.user_agent,
            coalesce(new.end_reason, 'expired'));
END;
CREATE TRIGGER auth_sessions_opened AFTER INSERT ON auth_sessions
WHEN new.link_id IS NOT NULL
BEGIN
    INSERT INTO link_events (link_id, at, kind, ip, user_agent)
    VALUES (new.link_id, new.created_at, 'redeemed', new.ip, new.user_agent);
END;

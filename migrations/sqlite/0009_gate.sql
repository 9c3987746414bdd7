-- The gate's own credential, and the record of every change a gate decision depends on.
--
-- A session opened by a redeem has two cookies: Latchkey's own (host-only, read by the
-- session layer) and the gate cookie (on LATCHKEY_COOKIE_DOMAIN, which every application
-- host receives). The gate cookie's value is a 256-bit random token stored here only as
-- its SHA-256, and only the gate endpoints accept it: an application that sees it cannot
-- act on Latchkey's pages or API with it.
ALTER TABLE auth_sessions ADD COLUMN gate_hash BLOB
    CHECK (gate_hash IS NULL OR length(gate_hash) = 32);
CREATE UNIQUE INDEX auth_sessions_gate_hash ON auth_sessions (gate_hash)
    WHERE gate_hash IS NOT NULL;

-- Before this migration the session cookie itself was set on the cookie domain, so every
-- application received a credential that worked on Latchkey. Those records are dropped:
-- everyone signs in once more, and gets the two cookies.
DELETE FROM tower_sessions;

-- Every committed change that can alter a gate decision, written by the triggers below
-- in the transaction that made it, whichever process made it (the server, the command
-- line, another tool). A serving process keeps decisions in memory and, before deciding,
-- reads the rows after the last one it has applied (app/src/server/gate/changes.rs).
-- SQLite commits one write transaction at a time, so ids grow in commit order.
-- subject: 'session:ROWID', 'link:ID', 'coworker:ID' or 'applications'.
CREATE TABLE gate_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT    NOT NULL
);

CREATE TRIGGER gate_session_ended AFTER UPDATE OF ended_at ON auth_sessions
WHEN old.ended_at IS NULL AND new.ended_at IS NOT NULL
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('session:' || new.rowid);
END;

-- A session's deadlines moved by hand (an operator's repair, a test's clock): Latchkey
-- itself only ever moves last_seen_at forward, which the gate computes by itself.
CREATE TRIGGER gate_session_moved AFTER UPDATE OF last_seen_at, expires_at ON auth_sessions
WHEN new.last_seen_at < old.last_seen_at OR new.expires_at IS NOT old.expires_at
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('session:' || new.rowid);
END;

CREATE TRIGGER gate_link_changed AFTER UPDATE OF revoked_at, recipient_email, recipient_name
ON magic_links
WHEN old.revoked_at IS NOT new.revoked_at OR old.recipient_email IS NOT new.recipient_email
  OR old.recipient_name IS NOT new.recipient_name
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('link:' || new.id);
END;

CREATE TRIGGER gate_access_added AFTER INSERT ON link_applications
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('link:' || new.link_id);
END;

CREATE TRIGGER gate_access_removed AFTER DELETE ON link_applications
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('link:' || old.link_id);
END;

CREATE TRIGGER gate_coworker_changed AFTER UPDATE ON coworkers
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('coworker:' || new.id);
END;

CREATE TRIGGER gate_application_added AFTER INSERT ON applications
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('applications');
END;

CREATE TRIGGER gate_application_changed AFTER UPDATE ON applications
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('applications');
END;

CREATE TRIGGER gate_application_removed AFTER DELETE ON applications
BEGIN
    INSERT INTO gate_changes (subject) VALUES ('applications');
END;

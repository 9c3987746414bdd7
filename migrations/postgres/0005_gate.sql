-- The gate's own credential, and a notification for every change a gate decision
-- depends on (the SQLite migration 0009 says why; here is what differs).
ALTER TABLE auth_sessions ADD COLUMN gate_hash BYTEA
    CHECK (gate_hash IS NULL OR length(gate_hash) = 32);
CREATE UNIQUE INDEX auth_sessions_gate_hash ON auth_sessions (gate_hash)
    WHERE gate_hash IS NOT NULL;

DELETE FROM tower_sessions;

-- Instances keep decisions in memory; each change is sent to every instance listening on
-- channel latchkey_gate when the transaction that made it commits (NOTIFY is
-- transactional), whichever process made it. The payload is the subject: 'session:ROWID',
-- 'link:ID', 'coworker:ID' or 'applications'. An instance that is not listening decides
-- from the database until it listens again (app/src/server/gate/changes.rs).
CREATE FUNCTION gate_changed(subject TEXT) RETURNS void LANGUAGE sql AS $$
    SELECT pg_notify('latchkey_gate', subject);
$$;

CREATE FUNCTION gate_session_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gate_changed('session:' || NEW.rowid);
    RETURN NULL;
END $$;
CREATE TRIGGER gate_session_ended AFTER UPDATE OF ended_at ON auth_sessions
FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
EXECUTE FUNCTION gate_session_ended();

-- A session's deadlines moved by hand (an operator's repair, a test's clock): Latchkey
-- itself only ever moves last_seen_at forward, which the gate computes by itself.
CREATE TRIGGER gate_session_moved AFTER UPDATE OF last_seen_at, expires_at ON auth_sessions
FOR EACH ROW WHEN (NEW.last_seen_at < OLD.last_seen_at OR NEW.expires_at IS DISTINCT FROM OLD.expires_at)
EXECUTE FUNCTION gate_session_ended();

CREATE FUNCTION gate_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gate_changed('link:' || NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER gate_link_changed AFTER UPDATE OF revoked_at, recipient_email, recipient_name
ON magic_links FOR EACH ROW
WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
      OR OLD.recipient_email IS DISTINCT FROM NEW.recipient_email
      OR OLD.recipient_name IS DISTINCT FROM NEW.recipient_name)
EXECUTE FUNCTION gate_link_changed();

-- One trigger per kind of change, named as SQLite's (migration 0009), which has no
-- TG_OP to tell them apart.
CREATE FUNCTION gate_access_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gate_changed('link:' || NEW.link_id);
    RETURN NULL;
END $$;
CREATE TRIGGER gate_access_added AFTER INSERT ON link_applications
FOR EACH ROW EXECUTE FUNCTION gate_access_added();

CREATE FUNCTION gate_access_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gate_changed('link:' || OLD.link_id);
    RETURN NULL;
END $$;
CREATE TRIGGER gate_access_removed AFTER DELETE ON link_applications
FOR EACH ROW EXECUTE FUNCTION gate_access_removed();

CREATE FUNCTION gate_coworker_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gate_changed('coworker:' || NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER gate_coworker_changed AFTER UPDATE ON coworkers
FOR EACH ROW EXECUTE FUNCTION gate_coworker_changed();

CREATE FUNCTION gate_applications_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gate_changed('applications');
    RETURN NULL;
END $$;
CREATE TRIGGER gate_application_added AFTER INSERT ON applications
FOR EACH STATEMENT EXECUTE FUNCTION gate_applications_changed();
CREATE TRIGGER gate_application_changed AFTER UPDATE ON applications
FOR EACH STATEMENT EXECUTE FUNCTION gate_applications_changed();
CREATE TRIGGER gate_application_removed AFTER DELETE ON applications
FOR EACH STATEMENT EXECUTE FUNCTION gate_applications_changed();

-- The session layer's records (tower-sessions), now created here rather than by the
-- session store at start-up, in the same shape on both engines: the id the cookie
-- carries, the encoded record, and when it expires, in unix seconds like every other
-- time. Databases made before kept the expiry as RFC 3339 text; it becomes seconds.
CREATE TABLE IF NOT EXISTS tower_sessions (
    id          TEXT    PRIMARY KEY NOT NULL,
    data        BLOB    NOT NULL,
    expiry_date INTEGER NOT NULL
);

UPDATE tower_sessions SET expiry_date = CAST(strftime('%s', expiry_date) AS INTEGER)
 WHERE typeof(expiry_date) = 'text';

-- The sweep of expired records.
CREATE INDEX tower_sessions_expiry ON tower_sessions (expiry_date);

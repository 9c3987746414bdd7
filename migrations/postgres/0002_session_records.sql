-- The session layer's records (tower-sessions), in the same shape as on SQLite
-- (migrations/sqlite/0008): the id the cookie carries, the encoded record, and when it
-- expires, in unix seconds like every other time. Latchkey's own store reads and writes
-- it (server/src/session_store.rs); a redeem writes its record in the same statement.
CREATE TABLE tower_sessions (
    id          TEXT   PRIMARY KEY NOT NULL,
    data        BYTEA  NOT NULL,
    expiry_date BIGINT NOT NULL
);

-- The sweep of expired records.
CREATE INDEX tower_sessions_expiry ON tower_sessions (expiry_date);

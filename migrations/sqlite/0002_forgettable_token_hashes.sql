-- Dead links forget their token hash after a retention period (see housekeeping), so
-- token_hash becomes nullable. SQLite cannot change a column's constraints in place:
-- this is its documented table rebuild. Migrations run on a connection with foreign
-- keys off, and db::connect checks them all before the pool opens.

CREATE TABLE magic_links_new (
    id              INTEGER PRIMARY KEY,
    -- NULL once the link has been dead (used, revoked or expired) for the retention
    -- period: nothing can match it any more, and the row stays for the record.
    token_hash      BLOB    UNIQUE CHECK (token_hash IS NULL OR length(token_hash) = 32),
    purpose         TEXT    NOT NULL CHECK (purpose IN ('invite', 'signin')),
    recipient_email TEXT    NOT NULL,
    recipient_name  TEXT,
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
INSERT INTO magic_links_new SELECT * FROM magic_links;
DROP TABLE magic_links;
ALTER TABLE magic_links_new RENAME TO magic_links;
CREATE INDEX magic_links_purpose_id ON magic_links (purpose, id DESC);

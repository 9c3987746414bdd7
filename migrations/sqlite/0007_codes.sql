-- One-time codes: the way in from another device. A link's code is stored only as
-- HMAC-SHA256 under a key kept outside the database (`code.key`), salted by the link's
-- token hash; NULL for a link made without one (the CLI's sign-in link). Wrong tries
-- count per link; at 5 the code stops working (the link does not).
ALTER TABLE magic_links ADD COLUMN code_hash BLOB;
ALTER TABLE magic_links ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0
    CHECK (code_failures >= 0);

-- Typing an address and a code looks up that address's live links with a code.
CREATE INDEX magic_links_code ON magic_links (recipient_email, expires_at)
    WHERE code_hash IS NOT NULL AND redeemed_at IS NULL AND revoked_at IS NULL;

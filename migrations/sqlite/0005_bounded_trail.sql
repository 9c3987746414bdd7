-- A trail that anyone holding a token cannot flood, and the index a link's page needs.

-- Looks (`opened`) and refused redeems (`redeem_refused`) repeated from one client network
-- (an IPv4 address, an IPv6 /64 by default) within a few minutes are one event with a
-- count: `repeats` is how many times it happened, `last_at` when it last did.
ALTER TABLE link_events ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1 CHECK (repeats >= 1);
ALTER TABLE link_events ADD COLUMN last_at INTEGER;
-- The client network the event came from, the key repeats are counted by.
ALTER TABLE link_events ADD COLUMN network TEXT;

-- Still append-only: what happened, when, by whom and from where never changes; only
-- the count of a repeated event grows (and with it when it last happened).
DROP TRIGGER link_events_no_update;
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

-- Finding the event a repeat joins, and counting a link's recent events of a kind, read
-- only that link's recent events of that kind.
CREATE INDEX link_events_repeatable ON link_events (link_id, kind, at);

-- A link's page names the link that replaced it (a resend or renewal).
CREATE INDEX magic_links_replaces ON magic_links (replaces) WHERE replaces IS NOT NULL;

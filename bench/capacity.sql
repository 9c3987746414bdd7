-- The capacity plan's simulation (bench/README.md, "Capacity"): a Latchkey database on
-- PostgreSQL grown to 1,000,000 invitations (the bench's mix: a quarter used, a quarter
-- revoked, half pending or expired, issued over a year), their trail (an `issued` event
-- each, a `redeemed` one for each used link) and 100,000 live sessions with their session
-- layer records, then each table's and index's size. Run on a migrated, empty database:
--
--   target/debug/with-postgres sh -c 'createdb -h 127.0.0.1 -U latchkey capacity &&
--     LATCHKEY_DATABASE_URL=${LATCHKEY_TEST_POSTGRES%/*}/capacity target/release/latchkey coworker add cap@example.com &&
--     psql "${LATCHKEY_TEST_POSTGRES%/*}/capacity" -f bench/capacity.sql'
\timing on
INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id, created_at,
                         expires_at, redeemed_at, revoked_at, delivery, code_hash)
SELECT sha256(int8send(i)), 'invite', 'guest-' || i || '@example.com', 1, c, c + 86400,
       CASE WHEN i % 4 = 0 THEN c + 60 END, CASE WHEN i % 4 = 1 THEN c + 120 END, 'sent',
       sha256(int8send(-i))
  FROM (SELECT i, extract(epoch FROM now())::bigint - 365 * 86400 + (i % (365 * 86400)) AS c
          FROM generate_series(1, 1000000) AS i) AS grown;
INSERT INTO link_events (link_id, at, kind, coworker_id)
SELECT id, created_at, 'issued', 1 FROM magic_links;
INSERT INTO link_events (link_id, at, kind, ip, user_agent)
SELECT id, redeemed_at, 'redeemed', '192.0.2.1', 'Mozilla/5.0 (X11; Linux x86_64)'
  FROM magic_links WHERE redeemed_at IS NOT NULL;
-- 100,000 live invitee sessions, on the newest used links.
INSERT INTO auth_sessions (id, link_id, created_at, last_seen_at, expires_at, user_agent, ip)
SELECT encode(sha256(int8send(id)), 'hex'), id, redeemed_at, redeemed_at,
       redeemed_at + 30 * 86400, 'Mozilla/5.0 (X11; Linux x86_64)', '192.0.2.1'
  FROM magic_links WHERE redeemed_at IS NOT NULL ORDER BY id DESC LIMIT 100000;
INSERT INTO tower_sessions (id, data, expiry_date)
SELECT substr(id, 1, 22), decode(repeat('ab', 90), 'hex'), expires_at FROM auth_sessions;
VACUUM ANALYZE;
SELECT relname AS "table", n_live_tup AS "rows",
       pg_size_pretty(pg_relation_size(relid)) AS heap,
       pg_size_pretty(pg_indexes_size(relid)) AS indexes,
       pg_size_pretty(pg_total_relation_size(relid)) AS total
  FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC;
SELECT pg_size_pretty(pg_database_size(current_database())) AS "database";

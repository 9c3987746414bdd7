-- Rate limits every instance shares (a budget of 5 is 5 in all, not 5 per instance): one
-- row per key (a client network, an address, a coworker, by kind), holding the
-- theoretical arrival time of GCRA in unix milliseconds. A row whose time has passed is a
-- full budget again, and is deleted. On SQLite, whose one instance is the only one, the
-- same limits are kept in its memory instead (app/src/server/limits.rs).
CREATE TABLE rate_limits (
    key TEXT   PRIMARY KEY,
    tat BIGINT NOT NULL
);

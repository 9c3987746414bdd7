-- What lets one statement text serve both engines (Latchkey writes its SQL once, in
-- SQLite's dialect where PostgreSQL has no word for it): SQLite's scalar min() and max()
-- over two or three values, instr(), group_concat(), and auth_sessions' rowid, the number
-- a session is shown and ended by on a link's page (SQLite's hidden rowid; here a
-- column of that name, numbered the same way).

CREATE FUNCTION min(a BIGINT, b BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN LEAST(a, b);
CREATE FUNCTION min(a BIGINT, b BIGINT, c BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN LEAST(a, b, c);
CREATE FUNCTION max(a BIGINT, b BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN GREATEST(a, b);

-- instr(haystack, needle): the 1-based position of needle, 0 when absent.
CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN strpos(haystack, needle);

-- group_concat(value, separator): the values joined, NULL for none (as SQLite's).
CREATE FUNCTION group_concat_step(joined TEXT, value TEXT, separator TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN value IS NULL THEN joined
                WHEN joined IS NULL THEN value
                ELSE joined || separator || value END;
CREATE AGGREGATE group_concat(TEXT, TEXT) (SFUNC = group_concat_step, STYPE = TEXT);

ALTER TABLE auth_sessions ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE;

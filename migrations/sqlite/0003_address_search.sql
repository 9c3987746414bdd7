-- Searching invitations by any part of the address ("contains") without reading every
-- row: a trigram full-text index over recipient_email, kept in step by triggers.
CREATE VIRTUAL TABLE magic_links_search USING fts5 (
    recipient_email,
    content = 'magic_links',
    content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO magic_links_search (magic_links_search) VALUES ('rebuild');

CREATE TRIGGER magic_links_search_insert AFTER INSERT ON magic_links BEGIN
    INSERT INTO magic_links_search (rowid, recipient_email) VALUES (new.id, new.recipient_email);
END;
CREATE TRIGGER magic_links_search_delete AFTER DELETE ON magic_links BEGIN
    INSERT INTO magic_links_search (magic_links_search, rowid, recipient_email)
        VALUES ('delete', old.id, old.recipient_email);
END;
CREATE TRIGGER magic_links_search_update AFTER UPDATE OF recipient_email ON magic_links BEGIN
    INSERT INTO magic_links_search (magic_links_search, rowid, recipient_email)
        VALUES ('delete', old.id, old.recipient_email);
    INSERT INTO magic_links_search (rowid, recipient_email) VALUES (new.id, new.recipient_email);
END;

-- Function URLs: one per function ($LATEST, stored as qualifier '') or per alias. Deleting the function or the
-- alias deletes its URL.
CREATE TABLE function_urls (
    url_id        TEXT PRIMARY KEY,
    function_name TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    qualifier     TEXT NOT NULL,
    auth_type     TEXT NOT NULL,
    cors          TEXT,
    invoke_mode   TEXT NOT NULL,
    created       REAL NOT NULL,
    modified      REAL NOT NULL,
    UNIQUE (function_name, qualifier)
);

CREATE TRIGGER function_urls_of_deleted_alias AFTER DELETE ON aliases
BEGIN
    DELETE FROM function_urls WHERE function_name = OLD.function_name AND qualifier = OLD.name;
END;

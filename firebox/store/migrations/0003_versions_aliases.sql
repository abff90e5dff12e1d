-- Published versions (numbered per function, never reused) and aliases with weighted routing.
ALTER TABLE functions ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE function_versions ADD COLUMN version_number INTEGER NOT NULL DEFAULT 0;  -- 0 is $LATEST
CREATE INDEX function_versions_in_order ON function_versions (function_name, version_number);

CREATE TABLE aliases (
    function_name      TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    function_version   TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    additional_version TEXT,
    additional_weight  REAL,
    revision_id        TEXT NOT NULL,
    PRIMARY KEY (function_name, name)
);

-- Functions, their versions ($LATEST only until versions are published) and the code archives they use.
CREATE TABLE code_archives (
    sha256        TEXT PRIMARY KEY,
    size          INTEGER NOT NULL,
    unzipped_size INTEGER NOT NULL,
    created_at    REAL NOT NULL
);

CREATE TABLE functions (
    name                 TEXT PRIMARY KEY,
    tags                 TEXT NOT NULL DEFAULT '{}',
    reserved_concurrency INTEGER,
    created_at           REAL NOT NULL
);

CREATE TABLE function_versions (
    function_name TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    version       TEXT NOT NULL,
    revision_id   TEXT NOT NULL,
    code_sha256   TEXT NOT NULL REFERENCES code_archives (sha256),
    settling      INTEGER NOT NULL DEFAULT 0,
    config        TEXT NOT NULL,
    PRIMARY KEY (function_name, version)
);

CREATE INDEX function_versions_by_code ON function_versions (code_sha256);
CREATE INDEX function_versions_settling ON function_versions (function_name) WHERE settling = 1;

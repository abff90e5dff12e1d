-- Layers (numbered per layer, never reused) and resource policies (per function and qualifier).
CREATE TABLE layers (
    name         TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE layer_versions (
    layer_name               TEXT NOT NULL REFERENCES layers (name),
    version                  INTEGER NOT NULL,
    code_sha256              TEXT NOT NULL REFERENCES code_archives (sha256),
    description              TEXT NOT NULL DEFAULT '',
    license_info             TEXT,
    compatible_runtimes      TEXT NOT NULL DEFAULT '[]',
    compatible_architectures TEXT NOT NULL DEFAULT '[]',
    created_at               REAL NOT NULL,
    PRIMARY KEY (layer_name, version)
);

CREATE TABLE policies (
    function_name TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    qualifier     TEXT NOT NULL,  -- '' for the unqualified function
    statements    TEXT NOT NULL,  -- JSON list of statements
    revision_id   TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);

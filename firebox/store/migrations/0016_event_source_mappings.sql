-- Event source mappings and the checkpoints of their pollers.
CREATE TABLE event_source_mappings (
    uuid TEXT PRIMARY KEY,
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier TEXT NOT NULL DEFAULT '',
    source_arn TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT NOT NULL,
    last_result TEXT NOT NULL,
    modified REAL NOT NULL,
    params TEXT NOT NULL
);
CREATE INDEX event_source_mappings_by_function ON event_source_mappings (function_name, uuid);
CREATE INDEX event_source_mappings_by_source ON event_source_mappings (source_arn, uuid);

CREATE TABLE esm_checkpoints (
    mapping_uuid TEXT NOT NULL REFERENCES event_source_mappings(uuid) ON DELETE CASCADE,
    shard_id TEXT NOT NULL,
    sequence_number TEXT,
    state TEXT NOT NULL DEFAULT '{}',
    updated REAL NOT NULL,
    PRIMARY KEY (mapping_uuid, shard_id)
);

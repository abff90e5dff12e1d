-- CloudWatch Logs' log groups and streams over the log blocks of 0002. A group or stream row is upserted in the
-- same transaction as the blocks written to it (one upsert per stream per batch), so its counters always agree
-- with the blocks; `stored_bytes` is the UTF-8 size of the block text kept.
CREATE TABLE log_groups (
    name           TEXT PRIMARY KEY,
    created        INTEGER NOT NULL,  -- epoch milliseconds
    retention_days INTEGER,           -- NULL: keep forever
    stored_bytes   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE log_streams (
    log_group      TEXT NOT NULL REFERENCES log_groups (name) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    created        INTEGER NOT NULL,
    first_event    INTEGER,           -- timestamps of the oldest and newest events, NULL until one is written
    last_event     INTEGER,
    last_ingestion INTEGER,
    stored_bytes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (log_group, name)
);

-- When a block reached the store (events' ingestionTime), and whether its text is one event (PutLogEvents: kept
-- whole, newlines and all) rather than lines to split (what functions print).
ALTER TABLE log_blocks ADD COLUMN ingested INTEGER;
ALTER TABLE log_blocks ADD COLUMN whole INTEGER NOT NULL DEFAULT 0;
UPDATE log_blocks SET ingested = timestamp;

CREATE INDEX log_blocks_by_stream ON log_blocks (log_group, log_stream, id);
CREATE INDEX log_blocks_by_time ON log_blocks (log_group, timestamp);

INSERT INTO log_groups (name, created, stored_bytes)
SELECT log_group, MIN(timestamp), SUM(length(CAST(text AS BLOB))) FROM log_blocks GROUP BY log_group;

INSERT INTO log_streams (log_group, name, created, first_event, last_event, last_ingestion, stored_bytes)
SELECT log_group, log_stream, MIN(timestamp), MIN(timestamp), MAX(timestamp), MAX(timestamp),
       SUM(length(CAST(text AS BLOB)))
FROM log_blocks GROUP BY log_group, log_stream;

-- Function logs. One row per block of consecutive log lines written together (an invocation's START..REPORT, an
-- init's output), so a busy function costs one insert per invocation; readers split blocks back into events,
-- one per line, as CloudWatch Logs keeps them.
CREATE TABLE log_blocks (
    id         INTEGER PRIMARY KEY,
    log_group  TEXT NOT NULL,
    log_stream TEXT NOT NULL,
    timestamp  INTEGER NOT NULL,  -- epoch milliseconds
    text       TEXT NOT NULL
);

CREATE INDEX log_blocks_by_group ON log_blocks (log_group, id);

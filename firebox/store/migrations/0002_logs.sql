-- Function logs: one row per log event, as CloudWatch Logs keeps them (group, stream, timestamp, message).
CREATE TABLE log_events (
    id         INTEGER PRIMARY KEY,
    log_group  TEXT NOT NULL,
    log_stream TEXT NOT NULL,
    timestamp  INTEGER NOT NULL,  -- epoch milliseconds
    message    TEXT NOT NULL
);

CREATE INDEX log_events_by_stream ON log_events (log_group, log_stream, id);

-- The durable queue of asynchronous (Event) invocations, and the per-qualifier configuration of their retries and
-- destinations. An event is committed here before its caller gets 202; it is deleted only after its outcome is
-- recorded (done, or handed to a destination), so a crash at any point delivers it again (at least once).
CREATE TABLE async_events (
    id           INTEGER PRIMARY KEY,
    request_id   TEXT NOT NULL,
    function_name TEXT NOT NULL,
    qualifier    TEXT,
    invoked_arn  TEXT NOT NULL,
    payload      BLOB NOT NULL,
    enqueued_at  REAL NOT NULL,
    not_before   REAL NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,  -- executions so far (approximateInvokeCount)
    lease_until  REAL                          -- NULL while waiting
);

CREATE INDEX async_events_waiting ON async_events (not_before) WHERE lease_until IS NULL;
CREATE INDEX async_events_by_function ON async_events (function_name);

CREATE TABLE event_invoke_configs (
    function_name TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    qualifier     TEXT NOT NULL,  -- '$LATEST', a version or an alias
    config        TEXT NOT NULL,  -- JSON: MaximumRetryAttempts, MaximumEventAgeInSeconds, DestinationConfig
    last_modified REAL NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);

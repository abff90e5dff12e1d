-- EventBridge: event buses, their rules and the rules' targets (documents in AWS's own shapes, owned by
-- control/events.py), the last tick of each scheduled rule, and deliveries to targets waiting to be retried.
CREATE TABLE event_buses (
    name     TEXT PRIMARY KEY,
    doc      TEXT NOT NULL,
    created  REAL NOT NULL,
    modified REAL NOT NULL
);
INSERT INTO event_buses (name, doc, created, modified)
    VALUES ('default', '{}', CAST(strftime('%s', 'now') AS REAL), CAST(strftime('%s', 'now') AS REAL));

CREATE TABLE event_rules (
    bus  TEXT NOT NULL REFERENCES event_buses(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    doc  TEXT NOT NULL,
    PRIMARY KEY (bus, name)
);

CREATE TABLE event_targets (
    bus       TEXT NOT NULL,
    rule      TEXT NOT NULL,
    target_id TEXT NOT NULL,
    arn       TEXT NOT NULL,
    position  INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (bus, rule, target_id),
    FOREIGN KEY (bus, rule) REFERENCES event_rules(bus, name) ON DELETE CASCADE
);
CREATE INDEX event_targets_by_arn ON event_targets (arn, bus, rule);

CREATE TABLE event_timers (
    key        TEXT PRIMARY KEY,
    last_fired REAL NOT NULL
);

CREATE TABLE event_retries (
    id          INTEGER PRIMARY KEY,
    rule_arn    TEXT NOT NULL,
    target      TEXT NOT NULL,   -- the target document as it was when the event matched
    event       TEXT NOT NULL,   -- the event (envelope) as matched
    payload     BLOB NOT NULL,   -- what the target is sent (after Input, InputPath or InputTransformer)
    attempts    INTEGER NOT NULL,
    first_at    REAL NOT NULL,
    not_before  REAL NOT NULL,
    lease_until REAL,
    last_error  TEXT NOT NULL
);
CREATE INDEX event_retries_waiting ON event_retries (not_before) WHERE lease_until IS NULL;

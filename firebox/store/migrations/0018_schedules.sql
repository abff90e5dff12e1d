-- EventBridge Scheduler: schedule groups (the default one always there) and their schedules, as documents in AWS's
-- GetSchedule shape owned by control/schedules.py, with the last tick each schedule fired.
CREATE TABLE schedule_groups (
    name     TEXT PRIMARY KEY,
    tags     TEXT NOT NULL DEFAULT '{}',
    created  REAL NOT NULL,
    modified REAL NOT NULL
);
INSERT INTO schedule_groups (name, created, modified)
    VALUES ('default', CAST(strftime('%s', 'now') AS REAL), CAST(strftime('%s', 'now') AS REAL));

CREATE TABLE schedules (
    group_name TEXT NOT NULL REFERENCES schedule_groups(name) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    state      TEXT NOT NULL,
    doc        TEXT NOT NULL,
    modified   REAL NOT NULL,
    last_fired REAL,
    PRIMARY KEY (group_name, name)
);
CREATE INDEX schedules_by_name ON schedules (name, group_name);

-- CloudWatch metrics: one row per series (namespace, name, canonical dimensions, unit) and one per data point.
CREATE TABLE metric_series (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    dimensions  TEXT NOT NULL,   -- JSON [[name, value], ...] sorted by name
    unit        TEXT NOT NULL,
    last_seen   INTEGER NOT NULL, -- epoch seconds of the newest point written
    UNIQUE (namespace, metric_name, dimensions, unit)
);
CREATE INDEX metric_series_name ON metric_series (metric_name);

-- resolution: 60 for fresh points; 300 and 3600 once rolled up (after 15 and 63 days).
-- histogram: the log-bucketed counts as JSON (firebox.models.metrics.Histogram), NULL when percentiles are unknown.
CREATE TABLE metric_points (
    series_id    INTEGER NOT NULL REFERENCES metric_series (id) ON DELETE CASCADE,
    timestamp    INTEGER NOT NULL,
    resolution   INTEGER NOT NULL,
    sample_count REAL NOT NULL,
    sum          REAL NOT NULL,
    minimum      REAL NOT NULL,
    maximum      REAL NOT NULL,
    histogram    TEXT,
    PRIMARY KEY (series_id, timestamp, resolution)
) WITHOUT ROWID;
CREATE INDEX metric_points_age ON metric_points (resolution, timestamp);

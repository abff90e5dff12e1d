-- Outcomes on their way to destinations that can fail (webhooks, SQS queues, dead-letter queues): kept until
-- delivered, retried with backoff, never dropped.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    body        BLOB NOT NULL,
    attributes  TEXT NOT NULL DEFAULT '{}',  -- SQS message attributes (dead-letter messages)
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  REAL NOT NULL,
    lease_until REAL,
    last_error  TEXT
);

CREATE INDEX deliveries_waiting ON deliveries (not_before) WHERE lease_until IS NULL;

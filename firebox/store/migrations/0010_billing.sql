-- Billing: metered usage per UTC month, function and executed version, as integer sums (no drift).
-- No foreign key to functions: a deleted function's usage stays billed for the month it ran in.
CREATE TABLE billing_usage (
    month             TEXT    NOT NULL,            -- 'YYYY-MM' (UTC)
    function_name     TEXT    NOT NULL,
    version           TEXT    NOT NULL,            -- '$LATEST' or a version number
    requests          INTEGER NOT NULL DEFAULT 0,
    billed_ms         INTEGER NOT NULL DEFAULT 0,
    duration_mb_ms    INTEGER NOT NULL DEFAULT 0,  -- sum of memory MB x billed ms
    ephemeral_mb_ms   INTEGER NOT NULL DEFAULT 0,  -- sum of (ephemeral storage - 512) MB x billed ms
    provisioned_mb_ms INTEGER NOT NULL DEFAULT 0,  -- configured environments x memory MB x ms configured
    PRIMARY KEY (month, function_name, version)
);

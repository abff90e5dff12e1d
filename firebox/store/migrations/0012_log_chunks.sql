-- A row of log_blocks may hold several blocks of one stream written in the same batch (a chunk): `stamps` then
-- gives each block's timestamp as [line segments, timestamp] runs, and `last_timestamp` the newest of them. One
-- row per stream per batch instead of one per invocation keeps a busy function's log writes off its throughput.
ALTER TABLE log_blocks ADD COLUMN last_timestamp INTEGER;
ALTER TABLE log_blocks ADD COLUMN stamps TEXT;

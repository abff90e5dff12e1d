-- X-Ray trace ids carried from an Event invocation's caller to each attempt and to its destinations, and the
-- function a delivery came from (for the DeadLetterErrors and DestinationDeliveryFailures metrics).
ALTER TABLE async_events ADD COLUMN trace_id TEXT;
ALTER TABLE deliveries ADD COLUMN source_function TEXT;
ALTER TABLE deliveries ADD COLUMN trace_id TEXT;

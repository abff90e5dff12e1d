-- Where an Event invocation came from (the InvocationSource: api, destination, schedule, ...), kept with it so
-- every attempt enters the data plane as what it is.
ALTER TABLE async_events ADD COLUMN source TEXT NOT NULL DEFAULT 'api';

-- An item put back after a transient failure carries when its failures began, so it can be given up after
-- job.<name>.retry.give-up-after; available_at holds its next attempt.
ALTER TABLE job_inbox ADD COLUMN failing_since TIMESTAMP WITH TIME ZONE;

-- The same failure of the same item, met again at each attempt, is one row with a count and the last time.
ALTER TABLE factory_error ADD COLUMN occurrences INTEGER DEFAULT 1 NOT NULL;
ALTER TABLE factory_error ADD COLUMN last_occurred_at TIMESTAMP WITH TIME ZONE;
CREATE INDEX factory_error_by_item ON factory_error (job, item_key, item_version, fingerprint);

-- The operator API lists and counts a job's failed items: a partial index keeps just those (few, and rarely
-- written), in key order, so the list costs the same beside a million finished items as beside none.
CREATE INDEX job_state_failed ON job_state (job, item_key, item_version) WHERE status = 'failed';

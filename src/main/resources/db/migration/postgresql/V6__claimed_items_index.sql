-- Only the items a run holds (status 'claimed') are looked up by run: a partial index keeps just those, so
-- finishing an item removes it from the index instead of adding an entry for the finished row, and the index
-- stays as small as the work in flight whatever the size of the history.
CREATE INDEX job_state_claimed ON job_state (job, run_id) WHERE status = 'claimed';
DROP INDEX job_state_by_run;
